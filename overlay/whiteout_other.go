//go:build !linux

package overlay

import (
	"errors"
	"fmt"
)

// MakeWhiteout is Linux-only: overlayfs is.
func MakeWhiteout(path string) error {
	return fmt.Errorf("make whiteout %s: %w", path, errors.ErrUnsupported)
}

// IsOpaque is Linux-only (see MakeWhiteout).
func IsOpaque(path string) (bool, error) {
	return false, fmt.Errorf("read %s of %s: %w", OpaqueXattr, path, errors.ErrUnsupported)
}

// SetOpaque is Linux-only (see MakeWhiteout).
func SetOpaque(path string) error {
	return fmt.Errorf("mark %s opaque: %w", path, errors.ErrUnsupported)
}
