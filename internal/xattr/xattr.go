package xattr

import (
	"strings"

	"github.com/mybuild/mybuild/overlay"
)

// The contract, as in umoci: writing a tree as a layer and extracting it
// again gives back the same xattrs, except for the ones below that are
// not part of an image at all. COPY and RUN layers obey the same rule.
//
// A layer carries security.capability (file capabilities: ping,
// newuidmap) and the user.* namespace. Everything else is host state:
// trusted.overlay.* is overlayfs bookkeeping, security.selinux is the
// host's labelling, system.posix_acl_* are not in the OCI layer format.
//
// user.overlay.* is overlayfs bookkeeping too when overlay is mounted
// with userxattr (rootless), so it is dropped both ways: a layer must
// never be able to inject an opaque or redirect marker.
const (
	capability  = "security.capability"
	userOverlay = overlay.UserPrefix
)

// Carried reports whether the xattr name goes into a layer.
func Carried(name string) bool {
	if name == capability {
		return true
	}
	return strings.HasPrefix(name, "user.") && !strings.HasPrefix(name, userOverlay)
}

// Overlay reports whether name is overlayfs bookkeeping, which a layer
// must never set on an extracted tree.
func Overlay(name string) bool {
	return strings.HasPrefix(name, overlay.TrustedPrefix) || strings.HasPrefix(name, overlay.UserPrefix)
}

// Attr is one extended attribute.
type Attr struct {
	Name  string
	Value []byte
}
