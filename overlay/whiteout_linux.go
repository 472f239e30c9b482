package overlay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Overlayfs marks a deleted entry in an upper or lower directory with a
// whiteout, a character device 0/0, and a directory that hides everything
// below it with the xattr trusted.overlay.opaque=y.
const (
	// XattrPrefix is the namespace overlayfs keeps its own metadata in.
	XattrPrefix = "trusted.overlay."
	// OpaqueXattr marks a directory whose lower contents are hidden.
	OpaqueXattr = XattrPrefix + "opaque"
	// RedirectXattr is set on renamed directories when redirect_dir is on.
	RedirectXattr = XattrPrefix + "redirect"
	// MetacopyXattr is set on metadata-only copy-ups when metacopy is on.
	MetacopyXattr = XattrPrefix + "metacopy"
)

// IsWhiteout reports whether fi describes an overlay whiteout.
func IsWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 || fi.Mode()&fs.ModeDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

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
