package overlay

import (
	"io/fs"
	"syscall"

	"github.com/mybuild/mybuild/internal/userns"
)

// Overlayfs marks a deleted entry in an upper or lower directory with a
// whiteout, a character device 0/0, and a directory that hides everything
// below it with the xattr trusted.overlay.opaque=y.
//
// In a user namespace, where trusted.* xattrs cannot be set or read, it
// is mounted with the userxattr option and keeps them in user.overlay.*
// instead. The rootless mode runs the whole builder in a user namespace:
// a process uses one form throughout, the one of where it runs.
const (
	// TrustedPrefix is overlayfs' namespace for its own metadata.
	TrustedPrefix = "trusted.overlay."
	// UserPrefix is that namespace with the userxattr mount option.
	UserPrefix = "user.overlay."
)

var (
	// XattrPrefix is the namespace overlayfs keeps its own metadata in,
	// for this process.
	XattrPrefix = prefix()
	// OpaqueXattr marks a directory whose lower contents are hidden.
	OpaqueXattr = XattrPrefix + "opaque"
	// RedirectXattr is set on renamed directories when redirect_dir is on.
	RedirectXattr = XattrPrefix + "redirect"
	// MetacopyXattr is set on metadata-only copy-ups when metacopy is on.
	MetacopyXattr = XattrPrefix + "metacopy"
)

func prefix() string {
	if userns.Inside() {
		return UserPrefix
	}
	return TrustedPrefix
}

// UserXattr tells whether overlayfs is mounted with userxattr here.
func UserXattr() bool { return XattrPrefix == UserPrefix }

// IsWhiteout reports whether fi describes an overlay whiteout.
func IsWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 || fi.Mode()&fs.ModeDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}
