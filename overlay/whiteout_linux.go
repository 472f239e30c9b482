package overlay

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MakeWhiteout creates a whiteout at path, replacing nothing: path must not exist.
//
//	mknod path c 0 0
func MakeWhiteout(path string) error {
	if err := unix.Mknod(path, unix.S_IFCHR, 0); err != nil {
		return &os.PathError{Op: "mknod whiteout", Path: path, Err: err}
	}
	return nil
}

// IsOpaque reports whether the directory at path is marked opaque.
func IsOpaque(path string) (bool, error) {
	var buf [2]byte
	n, err := unix.Lgetxattr(path, OpaqueXattr, buf[:])
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return false, nil
	case errors.Is(err, unix.ERANGE):
		return false, nil // a value longer than "y" is not the opaque marker
	case err != nil:
		return false, &os.PathError{Op: "lgetxattr " + OpaqueXattr, Path: path, Err: err}
	}
	return n == 1 && buf[0] == 'y', nil
}

// SetOpaque marks the directory at path opaque.
//
//	setfattr -n trusted.overlay.opaque -v y path
func SetOpaque(path string) error {
	if err := unix.Lsetxattr(path, OpaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("mark %s opaque: %w", path, err)
	}
	return nil
}
