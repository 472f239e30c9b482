package fswrite

import (
	"fmt"
	"io/fs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A target is what apply sets metadata on: a path, never following a
// symlink but for chmod (which apply does not call on one), or an open
// file. Each method returns an *Error.
type target interface {
	chown(o Owner) error
	chmod(m fs.FileMode) error
	setxattr(name string, value []byte) error
	utimes(atime, mtime unix.Timespec) error
}

type pathTarget string

func (p pathTarget) chown(o Owner) error {
	return check("lchown", string(p), o.String(), func() error { return unix.Lchown(string(p), int(o.UID), int(o.GID)) })
}

func (p pathTarget) chmod(m fs.FileMode) error {
	mode := unixMode(m)
	return check("chmod", string(p), fmt.Sprintf("%04o", mode), func() error { return unix.Chmod(string(p), mode) })
}

func (p pathTarget) setxattr(name string, value []byte) error {
	return check("lsetxattr", string(p), name, func() error { return unix.Lsetxattr(string(p), name, value, 0) })
}

func (p pathTarget) utimes(atime, mtime unix.Timespec) error {
	ts := []unix.Timespec{atime, mtime}
	return check("utimensat", string(p), "", func() error {
		return unix.UtimesNanoAt(unix.AT_FDCWD, string(p), ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// fileTarget sets metadata through an open file, with no path lookup.
type fileTarget struct{ f *rawFile }

func (t fileTarget) fd() int { return t.f.fd }

func (t fileTarget) chown(o Owner) error {
	return check("fchown", t.f.name, o.String(), func() error { return unix.Fchown(t.fd(), int(o.UID), int(o.GID)) })
}

func (t fileTarget) chmod(m fs.FileMode) error {
	mode := unixMode(m)
	return check("fchmod", t.f.name, fmt.Sprintf("%04o", mode), func() error { return unix.Fchmod(t.fd(), mode) })
}

func (t fileTarget) setxattr(name string, value []byte) error {
	return check("fsetxattr", t.f.name, name, func() error { return unix.Fsetxattr(t.fd(), name, value, 0) })
}

// utimes is futimens(3): utimensat(fd, NULL, times, 0).
func (t fileTarget) utimes(atime, mtime unix.Timespec) error {
	ts := [2]unix.Timespec{atime, mtime}
	return check("futimens", t.f.name, "", func() error {
		_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(t.f.fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
}

// check runs the system call fn, again while a signal interrupts it, and
// names a failure.
func check(op, path, arg string, fn func() error) error {
	if err := ignoringEINTR(fn); err != nil {
		return &Error{Op: op, Path: path, Arg: arg, Err: err}
	}
	return nil
}
