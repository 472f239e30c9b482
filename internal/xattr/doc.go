// Package xattr reads extended attributes, and holds the one rule for which of them a layer carries.
package xattr
