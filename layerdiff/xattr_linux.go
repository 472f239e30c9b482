package layerdiff

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/overlay"
)

// The xattr contract, as in umoci: writing a tree as a tar and extracting it
// again gives back the same xattrs, except for the ones below that are not
// part of the image at all.
//
// A layer carries security.capability (file capabilities: ping, newuidmap)
// and the user.* namespace. Everything else is host state: trusted.overlay.*
// is overlayfs bookkeeping, security.selinux is the host's labelling,
// system.posix_acl_* are not in the OCI layer format.
//
// user.overlay.* is overlayfs bookkeeping too when overlay is mounted with
// userxattr (rootless), so it is dropped both ways: a layer must never be able
// to inject an opaque or redirect marker.

const (
	paxXattr        = "SCHILY.xattr."
	capabilityXattr = "security.capability"
	userOverlay     = "user.overlay."
)

// keepXattr reports whether the xattr name goes into a layer tar.
func keepXattr(name string) bool {
	if name == capabilityXattr {
		return true
	}
	return strings.HasPrefix(name, "user.") && !strings.HasPrefix(name, userOverlay)
}

// overlayXattr reports whether name is overlayfs bookkeeping, which a layer
// tar must never set on the extracted tree.
func overlayXattr(name string) bool {
	return strings.HasPrefix(name, overlay.XattrPrefix) || strings.HasPrefix(name, userOverlay)
}

// listXattrs returns the names of the xattrs on path (not following a symlink).
func listXattrs(path string) ([]string, error) {
	var small [512]byte
	buf := small[:]
	for {
		n, err := unix.Llistxattr(path, buf)
		switch {
		case errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case errors.Is(err, unix.ERANGE):
			size, err := unix.Llistxattr(path, nil)
			if err != nil {
				return nil, fmt.Errorf("llistxattr %s: %w", path, err)
			}
			buf = make([]byte, size+64)
			continue
		case err != nil:
			return nil, fmt.Errorf("llistxattr %s: %w", path, err)
		}
		return splitNames(buf[:n]), nil
	}
}

func splitNames(b []byte) []string {
	var names []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			names = append(names, string(b[:i]))
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return names
}

// getXattr returns the value of one xattr of path (not following a symlink).
func getXattr(path, name string) ([]byte, error) {
	var small [256]byte
	buf := small[:]
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size, err := unix.Lgetxattr(path, name, nil)
			if err != nil {
				return nil, fmt.Errorf("lgetxattr %s %s: %w", path, name, err)
			}
			buf = make([]byte, size+64)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lgetxattr %s %s: %w", path, name, err)
		}
		return append([]byte(nil), buf[:n]...), nil
	}
}

// readXattrs returns the xattrs of path that belong in a layer, as PAX records.
func readXattrs(path string, names []string) (map[string]string, error) {
	var recs map[string]string
	for _, name := range names {
		if !keepXattr(name) {
			continue
		}
		v, err := getXattr(path, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, err
		}
		if recs == nil {
			recs = make(map[string]string)
		}
		recs[paxXattr+name] = string(v)
	}
	return recs, nil
}

// setXattr sets one xattr of path (not following a symlink). A filesystem or
// namespace that does not support it is not an error: the layer still works.
//
//	setfattr -h -n name -v value path
func setXattr(path, name string, value []byte) error {
	err := unix.Lsetxattr(path, name, value, 0)
	if err == nil || errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	return fmt.Errorf("lsetxattr %s %s: %w", path, name, err)
}
