package cache

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/internal/xattr"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// checkSeal compares the tree at root with its seal sl. Quick (full
// false), it lstats every sealed entry, and reads again only those whose
// stat data differ from the seal's, ctime included: a directory is listed
// only then, since adding, removing or renaming an entry changes its
// directory's mtime and ctime. Full, it reads and lists everything. It
// returns what differs and, when it read any entry again, the seal of the
// tree as it is now, for a caller to keep when nothing differs but stat
// data (a copied cache, a file sealed racily): start is the filesystem's
// clock before this walk.
func checkSeal(root string, sl *seal, full bool, start int64) ([]Problem, *seal, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case err == nil:
		defer unix.Close(fd)
	case errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ENOENT):
		// No directory (a symlink, say): the walk finds what it is at
		// the root's entry, by path, as damage.
		fd = -1
	default:
		return nil, nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	c := &sealCheck{
		root: root, rootFd: fd, sl: sl, full: full,
		now:   &seal{Version: sealVersion, Start: start, Userns: sl.Userns, Entries: make([]sealEntry, 0, len(sl.Entries))},
		links: map[uint64]string{},
	}
	for i := 0; i < len(sl.Entries); i = c.next(i) {
		if err := c.visit(i); err != nil {
			return nil, nil, err
		}
	}
	if err := c.compareReread(root); err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(c.problems, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	if len(c.reread) == 0 && len(c.problems) == 0 {
		return nil, nil, nil
	}
	return c.problems, c.now, nil
}

// sealCheck is one walk of checkSeal, in the order of the seal's
// entries: depth first, each directory's entries sorted by name.
type sealCheck struct {
	root string
	// rootFd is root, opened: each entry is looked up from it, not
	// from /, which halves the kernel's path walk of a deep cache dir;
	// -1 when root is no directory.
	rootFd   int
	sl       *seal
	full     bool
	now      *seal
	problems []Problem
	// reread are the entries read again, by index in now, with their
	// sealed self; their content is hashed after the walk.
	reread []rereadEntry
	links  map[uint64]string
	// skip is set when the entry visited last is gone or no longer a
	// directory: what the seal holds below it is not visited.
	skip bool
}

type rereadEntry struct {
	now int
	was sealEntry
}

func (c *sealCheck) host(p string) string { return filepath.Join(c.root, filepath.FromSlash(p)) }

// lstat is lstat of the sealed path p: from root's descriptor, or by
// its path where root is no directory.
func (c *sealCheck) lstat(p string, st *unix.Stat_t) error {
	if c.rootFd < 0 {
		return unix.Lstat(c.host(p), st)
	}
	return unix.Fstatat(c.rootFd, relative(p), st, unix.AT_SYMLINK_NOFOLLOW)
}

// relative is the sealed path p ("/", "/a/b") below the tree's root.
func relative(p string) string {
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// next is the index of the entry to visit after entry i.
func (c *sealCheck) next(i int) int {
	if !c.skip {
		return i + 1
	}
	c.skip = false
	return subtreeEnd(c.sl.Entries, i)
}

// subtreeEnd is the index of the first entry after entry i that is not
// below it.
func subtreeEnd(entries []sealEntry, i int) int {
	prefix := strings.TrimSuffix(entries[i].Path, "/") + "/"
	j := i + 1
	for j < len(entries) && strings.HasPrefix(entries[j].Path, prefix) {
		j++
	}
	return j
}

func (c *sealCheck) visit(i int) error {
	was := c.sl.Entries[i]
	var st unix.Stat_t
	if err := c.lstat(was.Path, &st); errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		c.problems = append(c.problems, Problem{Path: was.Path, What: "removed"})
		c.skip = true
		return nil
	} else if err != nil {
		return &os.PathError{Op: "lstat", Path: c.host(was.Path), Err: err}
	}
	cur := statEntry(was.Path, &st, c.links)
	if !c.full && sameStat(was, cur) && was.Ctime < c.sl.Start {
		cur.Digest, cur.Link, cur.Xattrs = was.Digest, was.Link, was.Xattrs
		c.now.Entries = append(c.now.Entries, cur)
		return nil
	}
	if t := was.Mode & unix.S_IFMT; t != cur.Mode&unix.S_IFMT {
		c.problems = append(c.problems, Problem{Path: was.Path, What: fmt.Sprintf("was a %s, is a %s", typeName(t), typeName(cur.Mode&unix.S_IFMT))})
		c.skip = true
		return nil
	}
	host := c.host(was.Path)
	if err := readMeta(&cur, host); err != nil {
		return err
	}
	c.reread = append(c.reread, rereadEntry{now: len(c.now.Entries), was: was})
	c.now.Entries = append(c.now.Entries, cur)
	if cur.Mode&unix.S_IFMT == unix.S_IFDIR {
		return c.listDir(i, host)
	}
	return nil
}

// listDir lists the directory of entry i, and reports the names the seal
// does not hold below it.
func (c *sealCheck) listDir(i int, host string) error {
	names, err := readDirNames(host)
	if err != nil {
		return err
	}
	p := c.sl.Entries[i].Path
	prefix := strings.TrimSuffix(p, "/") + "/"
	sealed := map[string]bool{}
	for _, e := range c.sl.Entries[i+1 : subtreeEnd(c.sl.Entries, i)] {
		if name := strings.TrimPrefix(e.Path, prefix); !strings.Contains(name, "/") {
			sealed[name] = true
		}
	}
	for _, name := range names {
		if !sealed[name] {
			c.problems = append(c.problems, Problem{Path: path.Join(p, name), What: "added"})
		}
	}
	return nil
}

// compareReread hashes the regular files read again, on every CPU at
// once, and compares each entry read again with its sealed self.
func (c *sealCheck) compareReread(root string) error {
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, r := range c.reread {
		if r.was.Mode&unix.S_IFMT != unix.S_IFREG {
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
		cur := c.now.Entries[r.now]
		if diffs := append(metaDiffs(r.was, cur), attrDiffs(r.was, cur)...); len(diffs) > 0 {
			c.problems = append(c.problems, Problem{Path: cur.Path, What: strings.Join(diffs, ", ")})
		}
	}
	return nil
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
