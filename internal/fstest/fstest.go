package fstest

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/overlay"
)

// Applier is one step that changes the tree under root.
type Applier interface {
	Apply(root string) error
}

type applyFunc func(root string) error

func (f applyFunc) Apply(root string) error { return f(root) }

// Apply runs the appliers in order against dir.
func Apply(dir string, appliers ...Applier) error {
	for _, a := range appliers {
		if err := a.Apply(dir); err != nil {
			return err
		}
	}
	return nil
}

// step names a step for its errors; every step's paths are relative to root.
func step(what, name string, fn func(p string) error) Applier {
	return applyFunc(func(root string) error {
		if err := fn(filepath.Join(root, name)); err != nil {
			return fmt.Errorf("fstest %s %s: %w", what, name, err)
		}
		return nil
	})
}

// CreateFile writes a file with content and sets perm exactly (no umask).
func CreateFile(name string, content []byte, perm os.FileMode) Applier {
	return step("create file", name, func(p string) error {
		if err := os.WriteFile(p, content, 0o600); err != nil {
			return err
		}
		return os.Chmod(p, perm)
	})
}

// CreateDir creates a directory, and any missing parents, with perm exactly.
func CreateDir(name string, perm os.FileMode) Applier {
	return step("create dir", name, func(p string) error {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		return os.Chmod(p, perm)
	})
}

// Symlink creates name pointing at target.
func Symlink(target, name string) Applier {
	return step("symlink", name, func(p string) error { return os.Symlink(target, p) })
}

// Link creates newname as a hard link to oldname.
func Link(oldname, newname string) Applier {
	return applyFunc(func(root string) error {
		if err := os.Link(filepath.Join(root, oldname), filepath.Join(root, newname)); err != nil {
			return fmt.Errorf("fstest link %s: %w", newname, err)
		}
		return nil
	})
}

// Whiteout creates an overlay whiteout (char device 0/0) at name.
func Whiteout(name string) Applier {
	return step("whiteout", name, overlay.MakeWhiteout)
}

// Opaque marks the directory dir opaque (trusted.overlay.opaque=y).
func Opaque(dir string) Applier {
	return step("opaque", dir, overlay.SetOpaque)
}

// SetXattr sets an extended attribute on name without following a symlink.
func SetXattr(name, key, value string) Applier {
	return step("setxattr "+key, name, func(p string) error {
		return unix.Lsetxattr(p, key, []byte(value), 0)
	})
}

// Chown changes the owner of name without following a symlink.
func Chown(name string, uid, gid int) Applier {
	return step("chown", name, func(p string) error { return os.Lchown(p, uid, gid) })
}

// Chmod sets the mode of name, including setuid, setgid and sticky bits.
func Chmod(name string, perm os.FileMode) Applier {
	return step("chmod", name, func(p string) error { return os.Chmod(p, perm) })
}

// Chtimes sets the access and modification time of name without following a symlink.
func Chtimes(name string, t time.Time) Applier {
	return step("chtimes", name, func(p string) error {
		ts := unix.NsecToTimespec(t.UnixNano())
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// Mkfifo creates a named pipe with perm exactly.
func Mkfifo(name string, perm os.FileMode) Applier {
	return step("mkfifo", name, func(p string) error {
		if err := unix.Mkfifo(p, 0o600); err != nil {
			return err
		}
		return os.Chmod(p, perm)
	})
}

// Mknod creates a device node or socket. mode carries the type
// (os.ModeDevice, os.ModeDevice|os.ModeCharDevice, os.ModeSocket) and the permissions.
func Mknod(name string, mode os.FileMode, major, minor uint32) Applier {
	return step("mknod", name, func(p string) error {
		var typ uint32
		switch {
		case mode&os.ModeCharDevice != 0:
			typ = unix.S_IFCHR
		case mode&os.ModeDevice != 0:
			typ = unix.S_IFBLK
		case mode&os.ModeSocket != 0:
			typ = unix.S_IFSOCK
		default:
			return fmt.Errorf("mode %v is not a device or socket", mode)
		}
		if err := unix.Mknod(p, typ|0o600, int(unix.Mkdev(major, minor))); err != nil {
			return err
		}
		return os.Chmod(p, mode.Perm())
	})
}

// CreateSparseFile creates a file of apparent size size that is a hole
// everywhere except a few marker bytes written at each offset in dataAt.
func CreateSparseFile(name string, size int64, dataAt ...int64) Applier {
	return step("create sparse file", name, func(p string) error {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		for _, off := range dataAt {
			if _, err := f.WriteAt([]byte(fmt.Sprintf("data@%d", off)), off); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Truncate(size); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

// Remove deletes name and anything below it.
func Remove(name string) Applier {
	return step("remove", name, os.RemoveAll)
}
