package buildcontext

import (
	"fmt"

	"github.com/mybuild/mybuild/internal/xattr"
)

// ReadXattrs reads the extended attributes of path that a copy carries
// (xattr.Carried, the rule layers follow too), sorted by name.
func ReadXattrs(path string) ([]Xattr, error) {
	names, err := xattr.List(path)
	if err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	attrs, err := xattr.Read(path, names, xattr.Carried)
	if err != nil {
		return nil, fmt.Errorf("read xattrs: %w", err)
	}
	return attrs, nil
}
