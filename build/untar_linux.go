package build

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/internal/xattr"
	"golang.org/x/sys/unix"
)

// untar unpacks an archive into dest (a directory of the image), as ADD
// does with BuildKit's chrootarchive.Untar: paths and symlinks resolve
// inside dest, entries keep the archive's owner (or o, with --chown),
// mode and times, and replace what is in their way unless both are
// directories. Whiteout names are ordinary files here.
func (w *layerWriter) untar(ctx context.Context, tr *tar.Reader, dest string, o *owner) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if err := w.untarEntry(tr, hdr, dest, o); err != nil {
			return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
	}
}

func (w *layerWriter) untarEntry(r io.Reader, hdr *tar.Header, dest string, o *owner) error {
	rel := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
	if rel == "" {
		return nil // the archive's "./": dest itself keeps its metadata
	}
	parent, err := w.view.ResolveUnder(dest, path.Dir(rel))
	if err != nil {
		return err
	}
	if parent != dest && !strings.HasPrefix(parent, dest+"/") && dest != "/" {
		return fmt.Errorf("path escapes %s", dest)
	}
	if err := w.mkdirAll(parent, 0o755, owner{}); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // PAX defaults, no file
	case tar.TypeDir, tar.TypeReg, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("unhandled tar header type %q", hdr.Typeflag)
	}
	p := path.Join(parent, path.Base(rel))
	existing, err := w.lookup(p)
	if err != nil {
		return err
	}
	isDir := hdr.Typeflag == tar.TypeDir
	if existing != nil && !(existing.IsDir() && isDir) {
		// Whatever this layer had there goes. What a lower layer has is
		// hidden by the new entry: a non-directory hides all below it, and
		// a directory over a lower file is not merged with it.
		if err := os.RemoveAll(w.host(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	uid, gid := hdr.Uid, hdr.Gid
	if o != nil {
		uid, gid = int(o.uid), int(o.gid)
	}
	h := w.host(p)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if existing != nil && existing.IsDir() {
			if err := w.copyUp(p); err != nil {
				return err
			}
		} else if err := os.Mkdir(h, 0o700); err != nil {
			return err
		}
	case tar.TypeReg, tar.TypeGNUSparse: // archive/tar fills in the holes
		if err := writeContent(h, r); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, h); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := w.view.ResolveUnder(dest, strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/"))
		if err != nil {
			return err
		}
		// As moby's Untar, the link's own header metadata is then set on
		// the inode it shares with its target.
		if err := w.linkOrCopy(target, h); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(hdr.Mode) & 0o7777
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		if hdr.Devmajor < 0 || hdr.Devmajor > math.MaxUint32 || hdr.Devminor < 0 || hdr.Devminor > math.MaxUint32 {
			return fmt.Errorf("invalid device number %d:%d", hdr.Devmajor, hdr.Devminor)
		}
		if err := unix.Mknod(h, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return err
		}
	}
	if err := os.Lchown(h, uid, gid); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// The raw bits: setuid, setgid and sticky included.
		if err := unix.Chmod(h, uint32(hdr.Mode)&0o7777); err != nil {
			return &os.PathError{Op: "chmod", Path: h, Err: err}
		}
	}
	if err := setXattrs(h, tarXattrs(hdr)); err != nil {
		return err
	}
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	at, mt := syscall.NsecToTimespec(atime.UnixNano()), syscall.NsecToTimespec(hdr.ModTime.UnixNano())
	if isDir {
		w.dirTimes[p] = [2]syscall.Timespec{at, mt}
		return nil
	}
	return setTimes(h, at, mt)
}

// linkOrCopy hard-links h to target when target is in this layer, and
// copies it otherwise: a layer cannot link to a file of another layer.
func (w *layerWriter) linkOrCopy(target, h string) error {
	if _, err := os.Lstat(w.host(target)); err == nil {
		return os.Link(w.host(target), h)
	}
	e, err := w.view.Lstat(target)
	if err != nil {
		return fmt.Errorf("hard link target %s: %w", target, err)
	}
	if !e.Mode().IsRegular() {
		return fmt.Errorf("hard link target %s is not a regular file", target)
	}
	f := buildcontext.File{Host: e.HostPath, Info: e.FileInfo}
	st := e.Sys().(*syscall.Stat_t)
	uid, gid := ownerOf(e.FileInfo)
	return w.copyRegular(&f, st, h, e.Mode()&specialBits, owner{uid: uid, gid: gid})
}

func writeContent(h string, r io.Reader) error {
	f, err := os.OpenFile(h, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// tarXattrs are the xattrs of an entry that a copy carries.
func tarXattrs(hdr *tar.Header) []buildcontext.Xattr {
	var out []buildcontext.Xattr
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !xattr.Carried(name) {
			continue
		}
		out = append(out, buildcontext.Xattr{Name: name, Value: []byte(v)})
	}
	return out
}
