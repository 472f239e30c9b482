package fswrite

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
)

var unshareSeq atomic.Uint64

// Unshare gives the file at path, one of several hard links to the same
// inode (fi is its lstat), an inode of its own: a copy with the same data,
// owner, mode, xattrs and times is renamed over it, and the other links
// keep the old inode. That is what overlayfs does when a step writes
// through one link of a lower layer: it copies that path up alone.
//
// The directory holding path keeps its times.
func Unshare(path string, fi fs.FileInfo) error {
	m, err := MetaOf(path, fi, func(string) bool { return true })
	if err != nil {
		return fmt.Errorf("unshare %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	dirInfo, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("unshare %s: %w", path, err)
	}
	tmp := filepath.Join(dir, ".mybuild-unshare-"+strconv.FormatUint(unshareSeq.Add(1), 10))
	if err := copyNode(path, tmp, m); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("unshare %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("unshare %s: %w", path, err)
	}
	dm, err := statMeta(dirInfo)
	if err != nil {
		return fmt.Errorf("unshare %s: %w", path, err)
	}
	if err := pathTarget(dir).utimes(timespec(dm.Atime), timespec(dm.Mtime)); err != nil {
		return fmt.Errorf("unshare %s: %w", path, err)
	}
	return nil
}

// copyNode makes dst, which must not exist, a copy of the non-directory
// src, with the metadata m.
func copyNode(src, dst string, m Meta) error {
	if m.Mode.IsRegular() {
		in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer in.Close()
		return WriteFile(dst, in, m)
	}
	var link string
	if m.Mode&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(src); err != nil {
			return err
		}
	}
	if err := mknode(dst, m, link); err != nil {
		return err
	}
	return Apply(dst, m)
}
