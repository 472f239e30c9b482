package fswrite

import (
	"fmt"
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// mknode makes at path, which must not exist, the directory, symlink (to
// link), device, fifo or socket m describes, 0700 or 0600 until its
// metadata is applied. Regular files are written by WriteFile.
func mknode(path string, m Meta, link string) error {
	var typ uint32
	var letter string
	switch t := m.Mode.Type(); t {
	case fs.ModeDir:
		//	mkdir path
		return check("mkdir", path, "", func() error { return unix.Mkdir(path, 0o700) })
	case fs.ModeSymlink:
		//	ln -s link path
		return check("symlink", path, "-> "+link, func() error { return unix.Symlink(link, path) })
	case fs.ModeDevice | fs.ModeCharDevice:
		typ, letter = unix.S_IFCHR, "c"
	case fs.ModeDevice:
		typ, letter = unix.S_IFBLK, "b"
	case fs.ModeNamedPipe:
		typ, letter = unix.S_IFIFO, "p"
	case fs.ModeSocket:
		typ, letter = unix.S_IFSOCK, "s"
	default:
		return fmt.Errorf("%s: cannot make a file of type %v", path, t)
	}
	//	mknod path c|b|p|s major minor
	arg := fmt.Sprintf("%s %d:%d", letter, unix.Major(m.Rdev), unix.Minor(m.Rdev))
	return check("mknod", path, arg, func() error { return unix.Mknod(path, typ|0o600, int(m.Rdev)) })
}

// WriteFile creates the regular file path, which must not exist, with the
// bytes of r, and applies m through the open file. From a file Copy
// opened, the data is copied in the kernel (copy_file_range).
func WriteFile(path string, r io.Reader, m Meta) error {
	f, err := createFile(path)
	if err != nil {
		return err
	}
	if _, err = io.Copy(f, r); err == nil {
		err = apply(fileTarget{f}, m, lenience{})
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
