package buildcontext

import (
	"fmt"

	"github.com/mybuild/mybuild/internal/xattr"
)

// CopiedXattr reports whether an xattr travels with a copied file: the
// ones a layer carries (xattr.Carried), so that COPY and RUN layers carry
// the same.
func CopiedXattr(name string) bool { return xattr.Carried(name) }

// ReadXattrs reads the extended attributes of path that a copy carries:
// security.capability and user.*, sorted by name.
func ReadXattrs(path string) ([]Xattr, error) {
	names, err := xattr.List(path)
	if err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	attrs, err := xattr.Read(path, names, xattr.Carried)
	if err != nil {
		return nil, fmt.Errorf("read xattrs: %w", err)
	}
	var out []Xattr
	for _, a := range attrs {
		out = append(out, Xattr{Name: a.Name, Value: a.Value})
	}
	return out, nil
}
