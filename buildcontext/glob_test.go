package buildcontext

import (
	"io/fs"
	"path"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// mapTree is a Tree held in memory: each path is a directory ("/"), a
// symlink ("-> target", absolute in the tree) or a file (anything else).
type mapTree map[string]string

func (m mapTree) Follow(p string) (string, bool, bool, error) {
	for range 40 {
		v, ok := m[p]
		if !ok {
			return "", false, false, nil
		}
		target, isLink := strings.CutPrefix(v, "-> ")
		if !isLink {
			return p, v == "/", true, nil
		}
		p = target
	}
	return "", false, false, syscall.ELOOP
}

func (m mapTree) ReadDir(dir string) ([]string, error) {
	v, ok := m[dir]
	switch {
	case !ok:
		return nil, fs.ErrNotExist
	case v != "/":
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: syscall.ENOTDIR}
	}
	var names []string
	for p := range m {
		if p != dir && path.Dir(p) == dir {
			names = append(names, path.Base(p))
		}
	}
	return names, nil
}

func TestGlob(t *testing.T) {
	tree := mapTree{
		"/":          "/",
		"/a":         "/",
		"/a/x.txt":   "x",
		"/a/y.txt":   "y",
		"/a/z.md":    "z",
		"/b":         "/",
		"/b/x.txt":   "bx",
		"/file":      "f",
		"/link":      "-> /a",
		"/d":         "/",
		"/d/loop":    "-> /d/loop",
		"/c":         "/",
		"/c/sub":     "/",
		"/c/sub/end": "e",
	}
	for _, tc := range []struct {
		pattern string
		want    []Match
		err     string
	}{
		{"a/*.txt", []Match{{"/a/x.txt", "x.txt"}, {"/a/y.txt", "y.txt"}}, ""},
		// The name is the one matched; the path is where a symlink leads.
		{"l*", []Match{{"/a", "link"}}, ""},
		// Through /link too: matches are sorted, not deduplicated.
		{"*/x.txt", []Match{{"/a/x.txt", "x.txt"}, {"/a/x.txt", "x.txt"}, {"/b/x.txt", "x.txt"}}, ""},
		{"[ab]/x.txt", []Match{{"/a/x.txt", "x.txt"}, {"/b/x.txt", "x.txt"}}, ""},
		// A file cannot hold more components, and a missing path matches
		// nothing.
		{"fil?/x", nil, ""},
		{"missing*/x", nil, ""},
		{"c/*/end", []Match{{"/c/sub/end", "end"}}, ""},
		{"a/[", nil, "bad pattern"},
		{"d/lo?p", nil, "too many levels"},
	} {
		got, err := Glob(tree, "/", tc.pattern)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Glob(%q) = %v, %v; want error %q", tc.pattern, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Glob(%q) = %v, %v; want %v", tc.pattern, got, err, tc.want)
		}
	}
}
