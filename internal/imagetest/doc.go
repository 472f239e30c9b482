// Package imagetest flattens OCI image archives into stable listings and configs that tests compare with goldens, and provides the files base images are made of (static busybox, a Debian root).
package imagetest
