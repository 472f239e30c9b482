//go:build !linux

package xattr

import (
	"errors"
	"fmt"
)

// List is Linux-only: mybuild builds on Linux, and its portable packages
// only need to compile elsewhere.
func List(path string) ([]string, error) {
	return nil, fmt.Errorf("list xattrs of %s: %w", path, errors.ErrUnsupported)
}

// Get is Linux-only (see List).
func Get(path, name string) ([]byte, error) {
	return nil, fmt.Errorf("get xattr %s of %s: %w", name, path, errors.ErrUnsupported)
}

// Read is Linux-only (see List).
func Read(path string, names []string, keep func(name string) bool) ([]Attr, error) {
	return nil, fmt.Errorf("read xattrs of %s: %w", path, errors.ErrUnsupported)
}
