package build

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/rootfs"
	"golang.org/x/sys/unix"
)

// layerWriter writes files straight into a new layer dir, without a mount:
// what a COPY or WORKDIR adds on top of the layers below. A directory that
// exists below and must hold new entries is copied up with its metadata,
// as overlayfs would.
type layerWriter struct {
	upper string
	lower *overlay.Stack
	view  *overlay.Stack // upper on top of lower
	// times to set on directories once their contents are written.
	dirTimes map[string][2]syscall.Timespec
	// fresh holds the directories this writer created where nothing
	// existed below: inside them only the upper dir needs looking at.
	fresh map[string]bool
	// links maps a source inode to the first path copied from it.
	links map[[2]uint64]string
}

func newLayerWriter(upper string, lower *overlay.Stack) *layerWriter {
	return &layerWriter{
		upper:    upper,
		lower:    lower,
		view:     overlay.NewStack(append([]string{upper}, lower.Dirs()...)...),
		dirTimes: map[string][2]syscall.Timespec{},
		fresh:    map[string]bool{},
		links:    map[[2]uint64]string{},
	}
}

func (w *layerWriter) host(p string) string { return filepath.Join(w.upper, p) }

// lookup reports what is at p in the merged view, nil if nothing.
func (w *layerWriter) lookup(p string) (*overlay.Entry, error) {
	if w.fresh[path.Dir(p)] {
		fi, err := os.Lstat(w.host(p))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &overlay.Entry{FileInfo: fi, HostPath: w.host(p)}, nil
	}
	e, err := w.view.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// copyUp makes sure the directory p, which exists in the view, exists in
// the upper dir too, with its metadata.
func (w *layerWriter) copyUp(p string) error {
	if p == "/" {
		return nil
	}
	if _, err := os.Lstat(w.host(p)); err == nil {
		return nil
	}
	if err := w.copyUp(path.Dir(p)); err != nil {
		return err
	}
	e, err := w.lower.Lstat(p)
	if err != nil {
		return err
	}
	if err := os.Mkdir(w.host(p), 0o700); err != nil {
		return err
	}
	if err := rootfs.CopyDirMeta(e, w.host(p)); err != nil {
		return err
	}
	st := e.Sys().(*syscall.Stat_t)
	w.dirTimes[p] = [2]syscall.Timespec{st.Atim, st.Mtim}
	return nil
}

// mkdirAll makes dir p (resolved) exist. Directories it creates get perm
// and the owner; existing ones keep their metadata. A non-directory in the
// way is an error.
func (w *layerWriter) mkdirAll(p string, perm fs.FileMode, o owner) error {
	if p == "/" {
		return nil
	}
	e, err := w.lookup(p)
	if err != nil {
		return err
	}
	if e != nil {
		if !e.IsDir() {
			return fmt.Errorf("cannot copy to non-directory: %s", p)
		}
		return w.copyUp(p)
	}
	if err := w.mkdirAll(path.Dir(p), perm, o); err != nil {
		return err
	}
	if err := w.copyUp(path.Dir(p)); err != nil {
		return err
	}
	h := w.host(p)
	if err := os.Mkdir(h, 0o700); err != nil {
		return err
	}
	w.fresh[p] = true
	if err := os.Lchown(h, int(o.uid), int(o.gid)); err != nil {
		return err
	}
	return os.Chmod(h, perm)
}

// copyFile copies one context entry to p, whose parent exists in the
// upper dir. mode and o are applied; times and xattrs come from the source.
func (w *layerWriter) copyFile(f *buildcontext.File, p string, mode fs.FileMode, o owner, overwriteDirMeta bool) error {
	existing, err := w.lookup(p)
	if err != nil {
		return err
	}
	h := w.host(p)
	isDir := f.Info.IsDir()
	switch {
	case existing != nil && existing.IsDir() && !isDir:
		return fmt.Errorf("cannot replace directory %s with a file", p)
	case existing != nil && !existing.IsDir() && isDir:
		return fmt.Errorf("cannot copy to non-directory: %s", p)
	case existing != nil && isDir:
		if err := w.copyUp(p); err != nil {
			return err
		}
		if !overwriteDirMeta {
			return nil
		}
	case existing != nil:
		if err := os.Remove(h); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	st := f.Info.Sys().(*syscall.Stat_t)
	if f.Info.Mode().IsRegular() {
		return w.copyRegular(f, st, h, mode, o)
	}
	if existing == nil {
		if err := w.create(f, st, h); err != nil {
			return err
		}
		if isDir {
			w.fresh[p] = true
		}
	}
	if err := os.Lchown(h, int(o.uid), int(o.gid)); err != nil {
		return err
	}
	if f.Info.Mode()&fs.ModeSymlink == 0 {
		if err := os.Chmod(h, mode); err != nil {
			return err
		}
	}
	if err := setXattrs(h, f.Xattrs); err != nil {
		return err
	}
	if isDir {
		w.dirTimes[p] = [2]syscall.Timespec{st.Atim, st.Mtim}
		return nil
	}
	return setTimes(h, st.Atim, st.Mtim)
}

// copyRegular copies a regular file, setting its metadata through the open
// file rather than by path. A file with other links already copied becomes
// a hard link to the first copy.
func (w *layerWriter) copyRegular(f *buildcontext.File, st *syscall.Stat_t, h string, mode fs.FileMode, o owner) error {
	id := [2]uint64{st.Dev, st.Ino}
	if st.Nlink > 1 {
		if first, ok := w.links[id]; ok {
			return os.Link(first, h)
		}
		w.links[id] = h
	}
	in, err := os.Open(f.Host)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(h, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// *os.File to *os.File: io.Copy uses copy_file_range, in the kernel.
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chown(int(o.uid), int(o.gid))
	}
	if err == nil {
		err = out.Chmod(mode) // after chown, which clears setuid and setgid
	}
	if err == nil {
		err = fsetXattrs(out, f.Xattrs)
	}
	if err == nil {
		err = futimens(out, st.Atim, st.Mtim)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", f.Host, err)
	}
	return nil
}

// create makes a directory, symlink, device, fifo or socket at h.
func (w *layerWriter) create(f *buildcontext.File, st *syscall.Stat_t, h string) error {
	m := f.Info.Mode()
	switch {
	case m.IsDir():
		return os.Mkdir(h, 0o700)
	case m&fs.ModeSymlink != 0:
		return os.Symlink(f.Link, h)
	case m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
		return unix.Mknod(h, st.Mode, int(st.Rdev))
	}
	return fmt.Errorf("%s: unsupported file type %s", f.Host, m.Type())
}

// finish sets the times of the directories written to, deepest first,
// since adding entries to a directory changes its mtime.
func (w *layerWriter) finish() error {
	dirs := make([]string, 0, len(w.dirTimes))
	for d := range w.dirTimes {
		dirs = append(dirs, d)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		t := w.dirTimes[d]
		if err := setTimes(w.host(d), t[0], t[1]); err != nil {
			return err
		}
	}
	return nil
}
