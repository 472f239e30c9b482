package layerdiff

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"os"
	"syscall"
	"time"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Write writes the layer tar for upper to w, uncompressed. lower is the merged
// view of the layers below (nil when there are none). An upper dir without
// changes (or holding only sockets, which a tar cannot hold) gives a valid,
// empty tar.
func Write(ctx context.Context, w io.Writer, upper string, lower *overlay.Stack, opts ...Option) error {
	return write(ctx, w, upper, lower, newOptions(opts))
}

func write(ctx context.Context, w io.Writer, upper string, lower *overlay.Stack, o *options) error {
	return writeChanges(ctx, w, func(fn func(Change) error) error { return Changes(ctx, upper, lower, fn) }, o)
}

func writeChanges(ctx context.Context, w io.Writer, changes func(fn func(Change) error) error, o *options) error {
	cw := &changeWriter{ctx: ctx, tw: tar.NewWriter(w), epoch: o.epoch, links: make(map[fileID]firstLink), digests: o.digests}
	if err := walkAhead(ctx, changes, o.digests != nil, cw.handle); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	if err := cw.tw.Close(); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	return nil
}

type fileID struct{ dev, ino uint64 }

// firstLink is the first name of an inode written to the tar, and its
// xattrs as PAX records.
type firstLink struct {
	path   string
	xattrs map[string]string
}

// changeWriter turns changes into tar entries, as containerd's
// ChangeWriter.HandleChange does.
type changeWriter struct {
	ctx   context.Context
	tw    *tar.Writer
	epoch *time.Time
	links map[fileID]firstLink // of each multiply-linked inode
	// digests takes the content digest of each file written, when set.
	digests func(ContentDigest)
}

func (cw *changeWriter) handle(p pending) error {
	c := p.c
	if c.Kind == Delete {
		return cw.writeHeader(whiteoutHeader(c.Path))
	}
	h, err := cw.header(c)
	if err != nil || h == nil {
		return err
	}
	if err := cw.writeHeader(h); err != nil {
		return err
	}
	if c.Opaque {
		if err := cw.writeHeader(opaqueHeader(c.Path)); err != nil {
			return err
		}
	}
	if h.Typeflag == tar.TypeReg && h.Size > 0 {
		if err := cw.content(p, h.Size); err != nil {
			return fmt.Errorf("%s: %w", c.Path, err)
		}
	}
	return nil
}

// content writes the size bytes of the file of p into the tar: those
// read ahead, or else read now.
func (cw *changeWriter) content(p pending, size int64) error {
	if p.pre == nil {
		return cw.copyFile(p.c.HostPath, p.c.Info, size)
	}
	r := <-p.pre
	defer r.release()
	if r.err != nil {
		return r.err
	}
	if _, err := cw.tw.Write(r.data); err != nil {
		return err
	}
	if cw.digests != nil && unchangedBy(p.c.Info, size, &r.after) {
		cw.digests(ContentDigest{Ino: r.after.Ino, Size: size, Mtime: r.after.Mtim.Nano(), Ctime: r.after.Ctim.Nano(), Digest: r.d})
	}
	return nil
}

// header builds the header for an added or modified path. A file whose
// inode was already written under another name becomes a hard link to it,
// with the xattrs read for the first name: one inode has one set.
func (cw *changeWriter) header(c Change) (*tar.Header, error) {
	var id fileID
	st, ok := c.Info.Sys().(*syscall.Stat_t)
	linked := ok && !c.Info.IsDir() && st.Nlink > 1
	if linked {
		id = fileID{dev: st.Dev, ino: st.Ino}
		if first, ok := cw.links[id]; ok {
			h, err := fileHeader(c.Path, c.Info, "", maps.Clone(first.xattrs))
			if err != nil || h == nil {
				return nil, err
			}
			return hardlinkHeader(h, first.path), nil
		}
	}
	var link string
	if c.Info.Mode()&os.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(c.HostPath); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Path, err)
		}
	}
	names := c.xattrs
	if !c.listed {
		var err error
		if names, err = xattr.List(c.HostPath); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Path, err)
		}
	}
	xattrs, err := readXattrs(c.HostPath, names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Path, err)
	}
	h, err := fileHeader(c.Path, c.Info, link, xattrs)
	if err != nil || h == nil {
		return nil, err
	}
	if linked {
		cw.links[id] = firstLink{path: c.Path, xattrs: maps.Clone(xattrs)}
	}
	return h, nil
}

func (cw *changeWriter) writeHeader(h *tar.Header) error {
	normalize(h, cw.epoch)
	if err := cw.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write header %s: %w", h.Name, err)
	}
	return nil
}

// copyFile writes the size bytes of the file at host into the tar. It
// works on the bare descriptor: an os.File costs a few more system calls
// per file, which show in a layer of many small files.
func (cw *changeWriter) copyFile(host string, fi os.FileInfo, size int64) error {
	sparse := maybeSparse(fi)
	fd, err := unix.Open(host, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: host, Err: err}
	}
	defer unix.Close(fd)
	buf := getBuf()
	defer putBuf(buf)
	if cw.digests == nil {
		return copySparse(cw.ctx, cw.tw, fd, size, sparse, *buf)
	}
	var after unix.Stat_t
	h := sha256.New()
	if err := copySparse(cw.ctx, io.MultiWriter(cw.tw, h), fd, size, sparse, *buf); err != nil {
		return err
	}
	if err := unix.Fstat(fd, &after); err != nil {
		return &os.PathError{Op: "fstat", Path: host, Err: err}
	}
	// What lstat said when the change was found is the stat before the
	// read.
	if unchangedBy(fi, size, &after) {
		cw.digests(ContentDigest{Ino: after.Ino, Size: size, Mtime: after.Mtim.Nano(), Ctime: after.Ctim.Nano(),
			Digest: digest.NewDigest(digest.SHA256, h)})
	}
	return nil
}

// maybeSparse reports whether a file may have holes: its blocks do not
// cover its size.
func maybeSparse(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || st.Blocks*512 < fi.Size()
}
