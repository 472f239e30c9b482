package cache

import (
	"bytes"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/internal/xattr"
	"golang.org/x/sync/errgroup"
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
	c := &sealCheck{
		sl: sl, full: full, byPath: make(map[string]int, len(sl.Entries)), seen: make([]bool, len(sl.Entries)),
		now:   &seal{Version: sealVersion, Start: start, Entries: make([]sealEntry, 0, len(sl.Entries))},
		links: map[uint64]string{},
	}
	for i, e := range sl.Entries {
		c.byPath[e.Path] = i
	}
	if err := walkTree(root, c.visit); err != nil {
		return nil, nil, err
	}
	if err := c.compareReread(root); err != nil {
		return nil, nil, err
	}
	for i, ok := range c.seen {
		if !ok && !under(sl.Entries[i].Path, c.problems) {
			c.problems = append(c.problems, Problem{Path: sl.Entries[i].Path, What: "removed"})
		}
	}
	slices.SortStableFunc(c.problems, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	if len(c.reread) == 0 {
		return c.problems, nil, nil
	}
	return c.problems, c.now, nil
}

// sealCheck is one walk of checkSeal.
type sealCheck struct {
	sl       *seal
	full     bool
	byPath   map[string]int // index of each path in sl
	seen     []bool         // by index in sl
	now      *seal
	problems []Problem
	// reread are the entries read again, by index in now, with their
	// sealed self; their content is hashed after the walk.
	reread []rereadEntry
	links  map[uint64]string
}

type rereadEntry struct {
	now int
	was sealEntry
}

func (c *sealCheck) visit(p, host string, st *unix.Stat_t) error {
	i, ok := c.byPath[p]
	if !ok {
		c.problems = append(c.problems, Problem{Path: p, What: "added"})
		return fs.SkipDir
	}
	c.seen[i] = true
	was, cur := c.sl.Entries[i], statEntry(p, st, c.links)
	if !c.full && sameStat(was, cur) && was.Ctime < c.sl.Start {
		cur.Digest, cur.Link, cur.Xattrs = was.Digest, was.Link, was.Xattrs
		c.now.Entries = append(c.now.Entries, cur)
		return nil
	}
	if t := was.Mode & unix.S_IFMT; t != cur.Mode&unix.S_IFMT {
		c.problems = append(c.problems, Problem{Path: p, What: fmt.Sprintf("was a %s, is a %s", typeName(t), typeName(cur.Mode&unix.S_IFMT))})
		c.reread = append(c.reread, rereadEntry{now: -1})
		return fs.SkipDir
	}
	if err := readMeta(&cur, host); err != nil {
		return err
	}
	c.reread = append(c.reread, rereadEntry{now: len(c.now.Entries), was: was})
	c.now.Entries = append(c.now.Entries, cur)
	return nil
}

// compareReread hashes the regular files read again, on every CPU at
// once, and compares each entry read again with its sealed self.
func (c *sealCheck) compareReread(root string) error {
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, r := range c.reread {
		if r.now < 0 || r.was.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		e := &c.now.Entries[r.now]
		g.Go(func() (err error) {
			e.Digest, err = hashFile(filepath.Join(root, filepath.FromSlash(e.Path)))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, r := range c.reread {
		if r.now < 0 {
			continue
		}
		cur := c.now.Entries[r.now]
		if diffs := append(metaDiffs(r.was, cur), attrDiffs(r.was, cur)...); len(diffs) > 0 {
			c.problems = append(c.problems, Problem{Path: cur.Path, What: strings.Join(diffs, ", ")})
		}
	}
	return nil
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

// attrDiffs names what differs in what stat does not say: content,
// symlink target, xattrs.
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
