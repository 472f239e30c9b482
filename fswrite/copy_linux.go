package fswrite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/mybuild/mybuild/buildcontext"
	"golang.org/x/sys/unix"
)

// Copy copies the source entry f (from the context or a stage) to p
// (resolved), whose parent exists in the upper dir, as COPY does: it gets
// mode (permissions with setuid, setgid and sticky) and the owner o, and
// keeps its own times and xattrs. A file replaces a file; a directory over
// a directory merges with it, and takes f's metadata only when
// setDirMeta is set. A regular file with other links already copied
// becomes a hard link to the first copy.
func (l *Layer) Copy(f *buildcontext.File, p string, mode fs.FileMode, o Owner, setDirMeta bool) error {
	existing, err := l.Lookup(p)
	if err != nil {
		return err
	}
	isDir := f.Info.IsDir()
	merge := false // a directory over a directory: kept, not made again
	switch {
	case existing == nil:
	case existing.IsDir() && !isDir:
		return fmt.Errorf("cannot replace directory %s with a file", p)
	case !existing.IsDir() && isDir:
		return fmt.Errorf("cannot copy to non-directory: %s", p)
	case isDir:
		if err := l.copyUp(p); err != nil {
			return err
		}
		if !setDirMeta {
			return nil
		}
		merge = true
	default:
		// A non-directory replaces a non-directory, whatever their types,
		// as fsutil's copy does: whatever this layer made there goes, and
		// the new entry hides what a layer below has.
		if err := os.Remove(l.host(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	m, err := statMeta(f.Info)
	if err != nil {
		return err
	}
	m.Owner, m.Mode, m.Xattrs = o, f.Info.Mode().Type()|mode&^fs.ModeType, f.Xattrs
	if m.Mode.IsRegular() {
		if l.copies != nil && existing == nil && f.Info.Sys().(*syscall.Stat_t).Nlink == 1 {
			l.copies.Go(func() error { return l.copyRegular(f, p, m) })
			return nil
		}
		return l.copyRegular(f, p, m)
	}
	if !merge {
		if err := mknode(l.host(p), m, f.Link); err != nil {
			return err
		}
		if isDir {
			l.fresh[p] = true
		}
	}
	return l.setMeta(p, m)
}

// copyRegular copies a regular file, setting its metadata through the open
// file rather than by path.
func (l *Layer) copyRegular(f *buildcontext.File, p string, m Meta) error {
	h := l.host(p)
	st := f.Info.Sys().(*syscall.Stat_t)
	id := fileID{dev: st.Dev, ino: st.Ino}
	if st.Nlink > 1 {
		if first, ok := l.linkTo(id); ok {
			return os.Link(first, h)
		}
	} else if l.reuse != nil && f.Digest != "" && len(m.Xattrs) == 0 {
		if src, ok := l.reuse(p, m, f.Digest); ok && unix.Link(src, h) == nil {
			return nil
		}
	}
	in, err := openRaw(f.Host, unix.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := WriteFile(h, in, m); err != nil {
		return fmt.Errorf("copy %s: %w", f.Host, err)
	}
	if st.Nlink > 1 {
		l.remember(id, h)
	}
	return nil
}

// CopyParent makes p (resolved) the directory f stands for as the parent
// of what a filtered copy brings (buildcontext.File.Parent), as fsutil's
// createParentDirs does: made new, it is a copy of f with mode and the
// owner o, as Copy makes it; already there, it is copied up and takes
// f's own permission, setuid, setgid and sticky bits, and nothing else.
func (l *Layer) CopyParent(f *buildcontext.File, p string, mode fs.FileMode, o Owner) error {
	existing, err := l.Lookup(p)
	if err != nil {
		return err
	}
	if existing == nil {
		return l.Copy(f, p, mode, o, true)
	}
	if !existing.IsDir() {
		return fmt.Errorf("cannot copy to non-directory: %s", p)
	}
	if err := l.copyUp(p); err != nil {
		return err
	}
	//	chmod mode p
	return pathTarget(l.host(p)).chmod(fs.ModeDir | f.Info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}
