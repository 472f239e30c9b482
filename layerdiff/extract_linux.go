package layerdiff

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// create makes the entry h at host, replacing what is there.
func (x *extractor) create(h *tar.Header, r io.Reader, host string) error {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont, tar.TypeDir,
		tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("unsupported entry type %q", h.Typeflag)
	}
	dir := h.Typeflag == tar.TypeDir
	wasWhiteout, err := x.replace(host, dir)
	if err != nil {
		return err
	}
	mode := uint32(h.Mode & 0o7777)
	switch h.Typeflag {
	case tar.TypeDir:
		//	mkdir host
		if err := unix.Mkdir(host, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "mkdir", Path: host, Err: err}
		}
		if wasWhiteout {
			if err := overlay.SetOpaque(host); err != nil {
				return err
			}
		}
	case tar.TypeSymlink:
		//	ln -s linkname host
		if err := unix.Symlink(h.Linkname, host); err != nil {
			return &os.LinkError{Op: "symlink", Old: h.Linkname, New: host, Err: err}
		}
	case tar.TypeChar, tar.TypeBlock:
		dev, err := devNumber(h)
		if err != nil {
			return err
		}
		typ := uint32(unix.S_IFCHR)
		if h.Typeflag == tar.TypeBlock {
			typ = unix.S_IFBLK
		}
		//	mknod host c|b major minor
		if err := unix.Mknod(host, typ|0o600, int(dev)); err != nil {
			return &os.PathError{Op: "mknod", Path: host, Err: err}
		}
	case tar.TypeFifo:
		//	mkfifo host
		if err := unix.Mkfifo(host, 0o600); err != nil {
			return &os.PathError{Op: "mkfifo", Path: host, Err: err}
		}
	default:
		if err := x.writeFile(h, r, host); err != nil {
			return err
		}
	}
	if err := setMeta(host, h.Uid, h.Gid, mode, h.Typeflag == tar.TypeSymlink, paxXattrs(h)); err != nil {
		return err
	}
	atime := h.AccessTime
	if atime.IsZero() {
		atime = h.ModTime
	}
	if dir {
		x.dirTimes[x.rel(host)] = times{atime: atime, mtime: h.ModTime}
		return nil
	}
	return setTimes(host, atime, h.ModTime)
}

// writeFile writes a regular file's data, sparsely.
//
// archive/tar expands the holes of GNU sparse entries into zeros and offers
// no way to skip them, so such an entry costs time in proportion to its
// apparent size (at memory speed, and ctx stops it), but its holes take no
// disk: writeSparse leaves every all-zero block a hole.
func (x *extractor) writeFile(h *tar.Header, r io.Reader, host string) error {
	f, err := os.OpenFile(host, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	err = writeSparse(x.ctx, f, r, h.Size, x.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", x.rel(host), err)
	}
	return nil
}

func devNumber(h *tar.Header) (uint64, error) {
	if h.Devmajor < 0 || h.Devmajor > math.MaxUint32 || h.Devminor < 0 || h.Devminor > math.MaxUint32 {
		return 0, fmt.Errorf("invalid device number %d:%d", h.Devmajor, h.Devminor)
	}
	return unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)), nil
}

// paxXattrs returns the xattrs of h, without the overlayfs ones: a layer
// must not mark directories opaque or redirect them but through whiteouts.
func paxXattrs(h *tar.Header) map[string][]byte {
	var xattrs map[string][]byte
	for k, v := range h.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattr)
		if !ok || xattr.Overlay(name) {
			continue
		}
		if xattrs == nil {
			xattrs = make(map[string][]byte)
		}
		xattrs[name] = []byte(v)
	}
	return xattrs
}

// setMeta sets owner, mode (not on symlinks) and xattrs, in that order:
// chown clears setuid bits and file capabilities.
//
//	chown -h uid:gid host; chmod mode host; setfattr -h ...
func setMeta(host string, uid, gid int, mode uint32, symlink bool, xattrs map[string][]byte) error {
	if uid < 0 || uid >= math.MaxUint32 || gid < 0 || gid >= math.MaxUint32 {
		return fmt.Errorf("invalid owner %d:%d", uid, gid)
	}
	if err := unix.Lchown(host, uid, gid); err != nil {
		return &os.PathError{Op: "lchown", Path: host, Err: err}
	}
	if !symlink {
		if err := unix.Chmod(host, mode); err != nil {
			return &os.PathError{Op: "chmod", Path: host, Err: err}
		}
	}
	names := make([]string, 0, len(xattrs))
	for name := range xattrs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		err := setXattr(host, name, xattrs[name])
		if errors.Is(err, unix.EPERM) && strings.HasPrefix(name, "user.") {
			continue // user.* only exists on files and directories
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// setTimes sets the times of host, not following a symlink.
//
//	touch -h -d mtime host
func setTimes(host string, atime, mtime time.Time) error {
	ts := []unix.Timespec{
		{Sec: atime.Unix(), Nsec: int64(atime.Nanosecond())},
		{Sec: mtime.Unix(), Nsec: int64(mtime.Nanosecond())},
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, host, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: host, Err: err}
	}
	return nil
}

// implicitDir makes a parent directory the tar does not list. It takes the
// metadata of the same directory below, as overlayfs' copy-up would; without
// one, 0755 root:root dated whiteoutTime, so extraction is reproducible. A
// directory made where this layer has a whiteout is opaque.
func (x *extractor) implicitDir(host string, opaque bool) error {
	if err := unix.Mkdir(host, 0o700); err != nil {
		return &os.PathError{Op: "mkdir", Path: host, Err: err}
	}
	rel := x.rel(host)
	x.dirTimes[rel] = times{atime: whiteoutTime, mtime: whiteoutTime}
	if opaque {
		if err := overlay.SetOpaque(host); err != nil {
			return err
		}
	} else if x.parents != nil {
		e, err := x.parents.Lstat("/" + rel)
		if err == nil && e.IsDir() {
			st := e.Sys().(*syscall.Stat_t)
			x.dirTimes[rel] = times{atime: statTime(st.Atim), mtime: statTime(st.Mtim)}
			return copyMeta(e.HostPath, st, host)
		}
	}
	return unix.Chmod(host, 0o755)
}
