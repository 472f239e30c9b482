package rootfs

import (
	"path"
	"path/filepath"
	"strings"
)

// keepSet is what a build must leave alone in the tree it works in, each
// path with all below it: the builder's own files, its cache, the
// context, the outputs, /proc, /sys, /dev and every mount point.
type keepSet struct {
	paths map[string]bool // clean, absolute inside the tree
}

func newKeepSet(paths ...string) *keepSet {
	k := &keepSet{paths: map[string]bool{}}
	for _, p := range paths {
		k.add(p)
	}
	return k
}

func (k *keepSet) add(p string) {
	if p = path.Clean("/" + p); p != "/" {
		k.paths[p] = true
	}
}

// has tells whether p, or a directory above it, is kept.
func (k *keepSet) has(p string) bool {
	for p != "/" && p != "." {
		if k.paths[p] {
			return true
		}
		p = path.Dir(p)
	}
	return false
}

// under is p inside a tree whose root is root on the host, or "" when p
// lies outside it.
func under(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return ""
	}
	return "/" + filepath.ToSlash(rel)
}

// holdsBelow tells whether a kept path lies strictly below p.
func (k *keepSet) holdsBelow(p string) bool {
	prefix := strings.TrimSuffix(path.Clean("/"+p), "/") + "/"
	for kept := range k.paths {
		if strings.HasPrefix(kept, prefix) {
			return true
		}
	}
	return false
}
