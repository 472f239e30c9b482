package overlay

import (
	"io/fs"
	"syscall"
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
