package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
	"golang.org/x/sys/unix"
)

// NewUpper makes an empty dir, in the store's scratch space, for the
// changes of a process that runs on lower. An overlay shows its upper
// dir's root as "/", so the new dir takes the mode, owner, times and
// copied xattrs of the image's root (0755 root:root on an empty image):
// the process sees the image's "/" unchanged. The caller removes the dir.
func NewUpper(store *cache.Store, lower *overlay.Stack) (string, error) {
	dir, err := store.TempDir("upper-")
	if err != nil {
		return "", err
	}
	e, err := lower.Lstat("/")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = os.Chmod(dir, 0o755)
	case err == nil:
		err = CopyDirMeta(e, dir)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// CopyDirMeta gives dir the mode (with setuid, setgid and sticky), owner,
// times and carried xattrs (xattr.Carried) of the directory e, as
// overlayfs' copy-up would.
func CopyDirMeta(e overlay.Entry, dir string) error {
	st := e.Sys().(*syscall.Stat_t)
	if err := os.Lchown(dir, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := os.Chmod(dir, e.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	names, err := xattr.List(e.HostPath)
	if err != nil {
		return err
	}
	attrs, err := xattr.Read(e.HostPath, names, xattr.Carried)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		if err := unix.Lsetxattr(dir, a.Name, a.Value, 0); err != nil {
			return &os.PathError{Op: "setxattr " + a.Name, Path: dir, Err: err}
		}
	}
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dir, ts, unix.AT_SYMLINK_NOFOLLOW)
}
