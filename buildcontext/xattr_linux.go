package buildcontext

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// CopiedXattr reports whether an xattr travels with a copied file: file
// capabilities and user attributes do; security labels, trusted.* and
// user.overlay.* (overlayfs's own markers in rootless mode) are the host's
// business, as layerdiff decides for layers.
func CopiedXattr(name string) bool {
	return name == "security.capability" ||
		(strings.HasPrefix(name, "user.") && !strings.HasPrefix(name, "user.overlay."))
}

// ReadXattrs reads the extended attributes of path that a copy carries:
// security.capability and user.*, sorted by name.
func ReadXattrs(path string) ([]Xattr, error) {
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", path, err)
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", path, err)
	}
	var out []Xattr
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if !CopiedXattr(name) {
			continue
		}
		val := make([]byte, 256)
		n, err := unix.Lgetxattr(path, name, val)
		if errors.Is(err, unix.ERANGE) {
			if n, err = unix.Lgetxattr(path, name, nil); err == nil {
				val = make([]byte, n)
				n, err = unix.Lgetxattr(path, name, val)
			}
		}
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read xattr %s of %s: %w", name, path, err)
		}
		out = append(out, Xattr{Name: name, Value: val[:n]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
