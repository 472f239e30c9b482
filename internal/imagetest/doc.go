// Package imagetest flattens OCI image archives into stable listings and configs that tests compare with goldens.
package imagetest
