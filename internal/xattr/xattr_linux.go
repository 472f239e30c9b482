package xattr

import (
	"errors"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// List returns the names of the xattrs of path, not following a symlink;
// none on a filesystem without xattrs.
//
//	getfattr -h -m - path
func List(path string) ([]string, error) {
	var small [512]byte
	buf := small[:]
	for {
		n, err := unix.Llistxattr(path, buf)
		switch {
		case err == nil:
			return splitNames(buf[:n]), nil
		case errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case errors.Is(err, unix.ERANGE):
			// Grown since the last call: ask the size, and try again, as
			// it may grow again in between.
			size, err := unix.Llistxattr(path, nil)
			if err != nil {
				return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
			}
			buf = make([]byte, size+64)
		default:
			return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
		}
	}
}

func splitNames(b []byte) []string {
	var names []string
	for name := range strings.SplitSeq(string(b), "\x00") {
		if name != "" {
			names = append(names, name)
		}
	}
	return names
}

// Get returns the value of the xattr name of path, not following a
// symlink. An xattr that is not there fails with unix.ENODATA.
//
//	getfattr -h -n name path
func Get(path, name string) ([]byte, error) {
	var small [256]byte
	buf := small[:]
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		switch {
		case err == nil:
			return append([]byte(nil), buf[:n]...), nil
		case errors.Is(err, unix.ERANGE):
			size, err := unix.Lgetxattr(path, name, nil)
			if err != nil {
				return nil, &os.PathError{Op: "lgetxattr " + name, Path: path, Err: err}
			}
			buf = make([]byte, size+64)
		default:
			return nil, &os.PathError{Op: "lgetxattr " + name, Path: path, Err: err}
		}
	}
}

// Read returns the xattrs of path among names (from List) that keep
// accepts, sorted by name. One removed since it was listed is left out.
func Read(path string, names []string, keep func(name string) bool) ([]Attr, error) {
	var attrs []Attr
	for _, name := range names {
		if !keep(name) {
			continue
		}
		v, err := Get(path, name)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, Attr{Name: name, Value: v})
	}
	slices.SortFunc(attrs, func(a, b Attr) int { return strings.Compare(a.Name, b.Name) })
	return attrs, nil
}
