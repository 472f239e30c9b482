package rootfs

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layerdiff"
)

// statKey is what a snapshot remembers of an entry: any change to a file's
// content or metadata changes one of these (ctime moves with every change
// of content, owner, mode, link count or xattrs), so a file whose key is
// the same is not read again.
type statKey struct {
	dev, ino, rdev uint64
	mode           uint32
	uid, gid       uint32
	size           int64
	mtime, ctime   int64
}

func keyOfInfo(fi fs.FileInfo) statKey {
	st := fi.Sys().(*syscall.Stat_t)
	return statKey{
		dev: st.Dev, ino: st.Ino, rdev: st.Rdev, mode: st.Mode, uid: st.Uid, gid: st.Gid,
		size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}
}

// snapshot is a tree as a step found it: the stat key of every entry, and
// the names in every directory, sorted.
type snapshot struct {
	root    string
	keep    *keepSet
	entries map[string]statKey // by path inside the tree ("/etc/passwd")
	names   map[string][]string
	// mounted are the targets of the step's mounts, which the diff skips;
	// settled says of the directories that placing the mounts touched
	// whether the step changed them, instead of their stat.
	mounted *keepSet
	settled map[string]bool
}

// takeSnapshot walks root, leaving out what keep holds.
func takeSnapshot(ctx context.Context, root string, keep *keepSet) (*snapshot, error) {
	s := &snapshot{root: root, keep: keep, entries: map[string]statKey{}, names: map[string][]string{}, mounted: newKeepSet()}
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s.entries["/"] = keyOfInfo(fi)
	return s, s.walk(ctx, "/")
}

func (s *snapshot) walk(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.host(dir))
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	var names []string
	unshared := false
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		if s.keep.has(p) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if linked(fi) {
			if fi, err = s.unshare(p, fi); err != nil {
				return err
			}
			unshared = true
		}
		names = append(names, e.Name())
		s.entries[p] = keyOfInfo(fi)
		if fi.IsDir() {
			if err := s.walk(ctx, p); err != nil {
				return err
			}
		}
	}
	s.names[dir] = names
	if unshared {
		// Renaming the copies in changed the directory's ctime.
		fi, err := os.Lstat(s.host(dir))
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		s.entries[dir] = keyOfInfo(fi)
	}
	return nil
}

// linked says whether fi, not a directory, has other hard links.
func linked(fi fs.FileInfo) bool {
	return !fi.IsDir() && fi.Sys().(*syscall.Stat_t).Nlink > 1
}

// unshare gives p an inode of its own before the step, and returns its
// new lstat. Overlayfs copies a file of a lower layer up alone when a step
// writes through one of its hard links, or links to it: the other links
// keep the old content and metadata. Breaking the links of the tree before
// each step gives a step in place the same view, and the same diff.
func (s *snapshot) unshare(p string, fi fs.FileInfo) (fs.FileInfo, error) {
	host := s.host(p)
	if err := fswrite.Unshare(host, fi); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return fi, nil
}

func (s *snapshot) host(p string) string { return filepath.Join(s.root, p) }

// changes reports what changed in the tree since s was taken, in the order
// layerdiff.Changes reports the changes of an upper dir: depth first, the
// names of a directory sorted, a directory before what it holds, a
// deletion in its place among its siblings. Only entries whose stat key
// changed are reported (and read); a deleted directory is one deletion,
// which hides all it held.
func (s *snapshot) changes(ctx context.Context, fn func(layerdiff.Change) error) error {
	return s.diffDir(ctx, "/", true, fn)
}

// diffDir reports the changes inside dir; existed says whether dir was a
// directory in the snapshot (when not, everything in it is new).
func (s *snapshot) diffDir(ctx context.Context, dir string, existed bool, fn func(layerdiff.Change) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.host(dir))
	if err != nil {
		return fmt.Errorf("diff %s: %w", dir, err)
	}
	var now []string
	isNow := make(map[string]bool, len(entries))
	for _, e := range entries {
		if p := path.Join(dir, e.Name()); !s.keep.has(p) && !s.mounted.has(p) {
			now = append(now, e.Name())
			isNow[e.Name()] = true
		}
	}
	var before []string
	if existed {
		before = s.names[dir]
	}
	for _, name := range mergeNames(before, now) {
		p := path.Join(dir, name)
		if s.mounted.has(p) {
			continue
		}
		if !isNow[name] {
			if err := fn(layerdiff.Change{Kind: layerdiff.Delete, Path: p}); err != nil {
				return err
			}
			continue
		}
		if err := s.diffEntry(ctx, p, existed, fn); err != nil {
			return err
		}
	}
	return nil
}

// diffEntry reports p, when it is new or its stat key changed, and what
// changed below it. parentExisted says whether p's directory was one in
// the snapshot: when not, an entry of the same path there is not p's past.
func (s *snapshot) diffEntry(ctx context.Context, p string, parentExisted bool, fn func(layerdiff.Change) error) error {
	host := s.host(p)
	fi, err := os.Lstat(host)
	if err != nil {
		return fmt.Errorf("diff %s: %w", p, err)
	}
	old, wasThere := s.entries[p]
	wasThere = wasThere && parentExisted
	wasDir := wasThere && old.mode&syscall.S_IFMT == syscall.S_IFDIR
	changed, settled := s.settled[p]
	switch {
	case !wasThere:
		err = fn(layerdiff.Change{Kind: layerdiff.Add, Path: p, Info: fi, HostPath: host})
	case settled && changed, !settled && keyOfInfo(fi) != old:
		err = fn(layerdiff.Change{Kind: layerdiff.Modify, Path: p, Info: fi, HostPath: host})
	}
	if err != nil || !fi.IsDir() {
		return err
	}
	return s.diffDir(ctx, p, wasDir, fn)
}

// settle records the step's mounts: targets, which the diff leaves out,
// and the directories placing them touched, with whether the step changed
// each (see placed.settle).
func (s *snapshot) settle(targets []string, touched map[string]bool) {
	for _, t := range targets {
		s.mounted.add(t)
	}
	s.settled = touched
}

// mergeNames is the sorted union of two sorted lists.
func mergeNames(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.Sort(out)
	return slices.Compact(out)
}
