package build

import (
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"github.com/mybuild/mybuild/buildcontext"
	"golang.org/x/sys/unix"
)

const specialBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func setTimes(path string, atime, mtime syscall.Timespec) error {
	ts := []unix.Timespec{unix.Timespec(atime), unix.Timespec(mtime)}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func setXattrs(path string, xattrs []buildcontext.Xattr) error {
	for _, x := range xattrs {
		if err := unix.Lsetxattr(path, x.Name, x.Value, 0); err != nil {
			return &os.PathError{Op: "setxattr " + x.Name, Path: path, Err: err}
		}
	}
	return nil
}

func ownerOf(fi fs.FileInfo) (uid, gid uint32) {
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

func rdevOf(fi fs.FileInfo) uint64 {
	if fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Rdev
}

// fsetXattrs sets xattrs on an open file.
func fsetXattrs(f *os.File, xattrs []buildcontext.Xattr) error {
	for _, x := range xattrs {
		if err := unix.Fsetxattr(int(f.Fd()), x.Name, x.Value, 0); err != nil {
			return &os.PathError{Op: "fsetxattr " + x.Name, Path: f.Name(), Err: err}
		}
	}
	return nil
}

// futimens sets the times of an open file: utimensat(fd, NULL, times, 0).
func futimens(f *os.File, atime, mtime syscall.Timespec) error {
	ts := [2]unix.Timespec{unix.Timespec(atime), unix.Timespec(mtime)}
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return &os.PathError{Op: "futimens", Path: f.Name(), Err: errno}
	}
	return nil
}
