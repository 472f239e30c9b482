package cache

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/mybuild/mybuild/internal/userns"
	"github.com/mybuild/mybuild/internal/xattr"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// makeSeal walks the tree at root and records every entry, its content
// hashed, the files on every CPU at once, but for empty files and those
// known already (known may be nil). start is the filesystem's clock
// before the walk (fsClock).
func makeSeal(root string, start int64, known *knownContent) (*seal, error) {
	sl := &seal{Version: sealVersion, Start: start, Userns: userns.Inside()}
	links := map[uint64]string{}
	var files []int // the entries whose content is to be hashed
	err := walkTree(root, func(p, host string, st *unix.Stat_t) error {
		e := statEntry(p, st, links)
		if err := readMeta(&e, host); err != nil {
			return err
		}
		if e.Mode&unix.S_IFMT == unix.S_IFREG && !known.digest(&e) {
			files = append(files, len(sl.Entries))
		}
		sl.Entries = append(sl.Entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, i := range files {
		e := &sl.Entries[i]
		g.Go(func() (err error) {
			e.Digest, err = hashFile(filepath.Join(root, filepath.FromSlash(e.Path)))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return sl, nil
}

// emptyDigest is the sha256 of no bytes.
var emptyDigest = digest.FromBytes(nil)

// digest sets the digest of a regular file, and reports whether it could
// without reading it: an empty file, or one known as it is now.
func (k *knownContent) digest(e *sealEntry) bool {
	if e.Size == 0 {
		e.Digest = emptyDigest
		return true
	}
	if k == nil {
		return false
	}
	f, ok := k.files[e.Ino]
	if !ok || f.Size != e.Size || f.Mtime != e.Mtime || f.Ctime != e.Ctime || f.Ctime >= k.readAfter {
		return false
	}
	e.Digest = f.Digest
	return true
}

// walkTree calls fn for root ("/") and everything below it, depth first,
// each directory's entries sorted by name, with their lstat. fn may
// return fs.SkipDir for a directory.
func walkTree(root string, fn func(p, host string, st *unix.Stat_t) error) error {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: root, Err: err}
	}
	err := fn("/", root, &st)
	if errors.Is(err, fs.SkipDir) || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	if err != nil {
		return err
	}
	return walkDir("/", root, fn)
}

func walkDir(p, host string, fn func(p, host string, st *unix.Stat_t) error) error {
	names, err := readDirNames(host)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	for _, name := range names {
		cp, ch := path.Join(p, name), filepath.Join(host, name)
		if err := unix.Lstat(ch, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: ch, Err: err}
		}
		err := fn(cp, ch, &st)
		if errors.Is(err, fs.SkipDir) {
			continue
		}
		if err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := walkDir(cp, ch, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// readDirNames lists a directory, sorted by name.
func readDirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// statEntry is what lstat says of the entry p. links maps the inodes seen
// so far with more than one link to their first path.
func statEntry(p string, st *unix.Stat_t, links map[uint64]string) sealEntry {
	e := sealEntry{
		Path: p, Mode: st.Mode, UID: st.Uid, GID: st.Gid, Size: st.Size,
		Ino: st.Ino, Nlink: uint64(st.Nlink),
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR, unix.S_IFBLK:
		e.Rdev = uint64(st.Rdev)
	case unix.S_IFDIR:
		return e
	}
	if st.Nlink > 1 {
		if first, ok := links[st.Ino]; ok {
			e.HardLink = first
		} else {
			links[st.Ino] = p
		}
	}
	return e
}

// readMeta reads an entry's xattrs, and a symlink's target.
func readMeta(e *sealEntry, host string) error {
	names, err := xattr.List(host)
	if err != nil {
		return err
	}
	if e.Xattrs, err = xattr.Read(host, names, sealedXattr); err != nil {
		return err
	}
	if e.Mode&unix.S_IFMT == unix.S_IFLNK {
		e.Link, err = os.Readlink(host)
	}
	return err
}

var readBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// hashFile is the sha256 of a file's content, read without following a
// symlink.
func hashFile(host string) (digest.Digest, error) {
	f, err := openFile(host, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := readBufs.Get().(*[]byte)
	defer readBufs.Put(buf)
	for {
		n, err := f.Read(*buf)
		h.Write((*buf)[:n])
		if err == io.EOF {
			return digest.NewDigest(digest.SHA256, h), nil
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", host, err)
		}
	}
}

// fsClock is the filesystem's clock now, as it stamps ctimes: the ctime
// of the file f (the lock file of the store's scratch dir, held open for
// the store's life), set to now. No file is made or removed for it, and
// where timestamps are fine-grained on demand (Linux 6.13 and later) a
// touch of a file whose time was read since gets a fine-grained one.
// Several callers at once are safe: each reads a time at or after its
// own touch, and before it goes on.
func fsClock(f *os.File) (int64, error) {
	fd := int(f.Fd())
	if err := unix.UtimesNanoAt(fd, "", []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}, unix.AT_EMPTY_PATH); err != nil {
		return 0, &os.PathError{Op: "utimensat", Path: f.Name(), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return st.Ctim.Nano(), nil
}

// clockAfter is the filesystem's clock (fsClock of clock) once it has
// moved past the ctime of path, which was changed last of the tree below
// it (the rename into place): a seal whose walk starts then finds no
// entry changed in the tick it began, which the next check would have to
// read again (see seal.Start). It waits a tick of the clock at most (4 ms
// at 250 Hz), often not at all: where timestamps are fine-grained on
// demand (Linux 6.13 and later), the touch of a clock file whose time was
// read gets a time finer than the tick.
func clockAfter(clock *os.File, path string) (int64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	for try := 0; ; try++ {
		now, err := fsClock(clock)
		if err != nil || now > st.Ctim.Nano() {
			return now, err
		}
		// A second touch at once: where timestamps are fine-grained on
		// demand, the first one may have been stamped with the coarse
		// clock, held up to the last fine-grained time handed out (the
		// rename's), and the second, of a file whose time was read, gets
		// a fine-grained one.
		if try > 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
}
