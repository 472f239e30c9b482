package buildcontext

import (
	"io/fs"
	"os"
	"slices"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirEntry is one entry of a directory, with its lstat data.
type dirEntry struct {
	name string
	info fs.FileInfo
}

// readDir lists dir in name order, each entry with its lstat data, taken
// relative to dir's descriptor (an entry removed in between is left
// out): the walk of a large context costs no lookup of each entry's
// whole path, and no poller registration of each directory (as
// os.ReadDir and DirEntry.Info cost).
func readDir(dir string) ([]dirEntry, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	// A blocking descriptor: os keeps it off the poller.
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	entries := make([]dirEntry, 0, len(names))
	for _, name := range names {
		si := &statInfo{name: name}
		st := (*unix.Stat_t)(unsafe.Pointer(&si.st)) // the same struct in both packages
		err := unix.Fstatat(fd, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT {
			continue // removed since it was listed: an editor's or git's temp file
		}
		if err != nil {
			return nil, &fs.PathError{Op: "lstat", Path: dir + "/" + name, Err: err}
		}
		entries = append(entries, dirEntry{name: name, info: si})
	}
	return entries, nil
}

// statInfo is an fs.FileInfo over lstat data; Sys gives the
// *syscall.Stat_t, as os.Lstat's does.
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.st.Size }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s *statInfo) Sys() any           { return &s.st }

// Mode converts the mode as os.Lstat does.
func (s *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if s.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if s.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if s.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
