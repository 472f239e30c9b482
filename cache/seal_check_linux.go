package cache

import (
	"bytes"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/internal/xattr"
	"golang.org/x/sys/unix"
)

// checkSeal compares the tree at root with its seal sl. Quick (full
// false), it only lstats what lstat says has not changed since the seal
// was made, ctime included, and reads the rest; full, it reads everything.
// It returns what differs and, when it read any entry again, the seal of
// the tree as it is now, for a caller to keep when nothing differs but
// stat data (a copied cache, a file sealed racily): start is the
// filesystem's clock before this walk.
func checkSeal(root string, sl *seal, full bool, start int64) ([]Problem, *seal, error) {
	byPath := make(map[string]int, len(sl.Entries))
	for i, e := range sl.Entries {
		byPath[e.Path] = i
	}
	seen := make([]bool, len(sl.Entries))
	now := &seal{Version: sealVersion, Start: start, Entries: make([]sealEntry, 0, len(sl.Entries))}
	var problems []Problem
	reread := false
	links := map[uint64]string{}
	err := walkTree(root, func(p, host string, st *unix.Stat_t) error {
		i, ok := byPath[p]
		if !ok {
			problems = append(problems, Problem{Path: p, What: "added"})
			return fs.SkipDir
		}
		seen[i] = true
		was, cur := sl.Entries[i], statEntry(p, st, links)
		if !full && sameStat(was, cur) && was.Ctime < sl.Start {
			cur.Digest, cur.Link, cur.Xattrs = was.Digest, was.Link, was.Xattrs
			now.Entries = append(now.Entries, cur)
			return nil
		}
		reread = true
		if t := was.Mode & unix.S_IFMT; t != cur.Mode&unix.S_IFMT {
			problems = append(problems, Problem{Path: p, What: fmt.Sprintf("was a %s, is a %s", typeName(t), typeName(cur.Mode&unix.S_IFMT))})
			return fs.SkipDir
		}
		if err := readAttrs(&cur, host); err != nil {
			return err
		}
		if diffs := append(metaDiffs(was, cur), attrDiffs(was, cur)...); len(diffs) > 0 {
			problems = append(problems, Problem{Path: p, What: strings.Join(diffs, ", ")})
		}
		now.Entries = append(now.Entries, cur)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for i, ok := range seen {
		if !ok && !under(sl.Entries[i].Path, problems) {
			problems = append(problems, Problem{Path: sl.Entries[i].Path, What: "removed"})
		}
	}
	if !reread {
		now = nil
	}
	return problems, now, nil
}

// under reports whether p is below a path a problem names already: the
// entries of a directory that was replaced are not listed one by one.
func under(p string, problems []Problem) bool {
	for _, pr := range problems {
		if strings.HasPrefix(p, strings.TrimSuffix(pr.Path, "/")+"/") {
			return true
		}
	}
	return false
}

// sameStat reports whether lstat found an entry as the seal saw it.
func sameStat(a, b sealEntry) bool {
	return a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID && a.Size == b.Size &&
		a.Rdev == b.Rdev && a.Ino == b.Ino && a.Nlink == b.Nlink &&
		a.Mtime == b.Mtime && a.Ctime == b.Ctime && a.HardLink == b.HardLink
}

// metaDiffs names what differs between two entries of one type in what
// lstat says, stat data (inode, ctime, link count) aside, and the size
// of a directory or symlink (its entries and its target are compared).
func metaDiffs(was, cur sealEntry) []string {
	var d []string
	if was.Mode != cur.Mode {
		d = append(d, fmt.Sprintf("mode changed from %04o to %04o", was.Mode&^unix.S_IFMT, cur.Mode&^unix.S_IFMT))
	}
	if was.UID != cur.UID || was.GID != cur.GID {
		d = append(d, fmt.Sprintf("owner changed from %d:%d to %d:%d", was.UID, was.GID, cur.UID, cur.GID))
	}
	if t := was.Mode & unix.S_IFMT; was.Size != cur.Size && t != unix.S_IFDIR && t != unix.S_IFLNK {
		d = append(d, fmt.Sprintf("size changed from %d to %d", was.Size, cur.Size))
	}
	if was.Rdev != cur.Rdev {
		d = append(d, "device number changed")
	}
	if was.Mtime != cur.Mtime {
		d = append(d, "mtime changed")
	}
	if was.HardLink != cur.HardLink {
		d = append(d, "hard links changed")
	}
	return d
}

// attrDiffs names what differs in what readAttrs read.
func attrDiffs(was, cur sealEntry) []string {
	var d []string
	if was.Digest != cur.Digest {
		d = append(d, "content changed")
	}
	if was.Link != cur.Link {
		d = append(d, fmt.Sprintf("link target changed from %q to %q", was.Link, cur.Link))
	}
	for _, name := range xattrNames(was.Xattrs, cur.Xattrs) {
		a, b := findXattr(was.Xattrs, name), findXattr(cur.Xattrs, name)
		switch {
		case a == nil:
			d = append(d, "xattr "+name+" added")
		case b == nil:
			d = append(d, "xattr "+name+" removed")
		case !bytes.Equal(a.Value, b.Value):
			d = append(d, "xattr "+name+" changed")
		}
	}
	return d
}

func xattrNames(a, b []xattr.Attr) []string {
	var names []string
	for _, x := range append(slices.Clone(a), b...) {
		names = append(names, x.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func findXattr(attrs []xattr.Attr, name string) *xattr.Attr {
	for i := range attrs {
		if attrs[i].Name == name {
			return &attrs[i]
		}
	}
	return nil
}

func typeName(t uint32) string {
	switch t {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	}
	return fmt.Sprintf("file of type %o", t)
}
