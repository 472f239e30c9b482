package layerdiff

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// hardlink makes host a hard link to the entry named by h.Linkname. A target
// in this layer is linked; one only found below is copied in.
func (x *extractor) hardlink(h *tar.Header, host string) error {
	target, err := cleanName(h.Linkname)
	if err != nil {
		return fmt.Errorf("link target %q: %w", h.Linkname, err)
	}
	if target == "." {
		return fmt.Errorf("link target %q: is the root", h.Linkname)
	}
	view := x.layerView()
	p, err := view.ResolveParent("/" + target)
	if err != nil {
		return fmt.Errorf("link target %q: %w", h.Linkname, err)
	}
	e, err := view.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("link target %q: %w", h.Linkname, errNotFound)
	}
	if err != nil {
		return fmt.Errorf("link target %q: %w", h.Linkname, err)
	}
	if e.IsDir() {
		return fmt.Errorf("link target %q: is a directory", h.Linkname)
	}
	if e.HostPath == host {
		return nil // a link to itself
	}
	if strings.HasPrefix(e.HostPath, x.root+"/") {
		return x.link(e.HostPath, host)
	}
	if c, ok := x.copies[e.HostPath]; ok && sameFile(c.host, c.id) {
		return x.link(c.host, host)
	}
	if _, err := x.replace(host, false); err != nil {
		return err
	}
	if err := x.copyIn(e, host); err != nil {
		return fmt.Errorf("copy link target %q from below: %w", h.Linkname, err)
	}
	if id, ok := idOf(host); ok {
		x.copies[e.HostPath] = copied{host: host, id: id}
	}
	return nil
}

// link replaces host with a hard link to old, which is inside the root.
//
//	ln -f old host
func (x *extractor) link(old, host string) error {
	if _, err := x.replace(host, false); err != nil {
		return err
	}
	return os.Link(old, host)
}

// layerView is this layer stacked over its parents, as overlayfs will see it.
func (x *extractor) layerView() *overlay.Stack {
	if x.view == nil {
		dirs := []string{x.root}
		if x.parents != nil {
			dirs = append(dirs, x.parents.Dirs()...)
		}
		x.view = overlay.NewStack(dirs...)
	}
	return x.view
}

// copyIn copies the file e from a layer below to host, for a hard link that
// cannot cross layers: its data, owner, mode, xattrs and times.
func (x *extractor) copyIn(e overlay.Entry, host string) error {
	st, ok := e.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no stat data", e.HostPath)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if err := x.copyData(e.HostPath, host, st.Size); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(e.HostPath)
		if err != nil {
			return err
		}
		if err := unix.Symlink(target, host); err != nil {
			return &os.LinkError{Op: "symlink", Old: target, New: host, Err: err}
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if err := unix.Mknod(host, st.Mode&unix.S_IFMT|0o600, int(st.Rdev)); err != nil {
			return &os.PathError{Op: "mknod", Path: host, Err: err}
		}
	default:
		return fmt.Errorf("%s: cannot copy file type %#o", e.HostPath, st.Mode&unix.S_IFMT)
	}
	if err := copyMeta(e.HostPath, st, host); err != nil {
		return err
	}
	return setTimes(host, statTime(st.Atim), statTime(st.Mtim))
}

func (x *extractor) copyData(src, dst string, size int64) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	err = writeSparse(x.ctx, out, in, size, x.buf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyMeta gives dst the owner, mode and xattrs of src, whose lstat is st,
// as extracting src from its tar would: overlayfs' own xattrs stay behind,
// opacity belongs to one layer.
func copyMeta(src string, st *syscall.Stat_t, dst string) error {
	names, err := xattr.List(src)
	if err != nil {
		return err
	}
	attrs, err := xattr.Read(src, names, func(name string) bool { return !xattr.Overlay(name) })
	if err != nil {
		return err
	}
	xattrs := make(map[string][]byte, len(attrs))
	for _, a := range attrs {
		xattrs[a.Name] = a.Value
	}
	symlink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	return setMeta(dst, int(st.Uid), int(st.Gid), st.Mode&0o7777, symlink, xattrs)
}

func statTime(ts syscall.Timespec) time.Time { return time.Unix(ts.Sec, ts.Nsec) }

func idOf(host string) (fileID, bool) {
	fi, err := os.Lstat(host)
	if err != nil {
		return fileID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: st.Dev, ino: st.Ino}, true
}

func sameFile(host string, id fileID) bool {
	got, ok := idOf(host)
	return ok && got == id
}
