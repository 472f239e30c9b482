package buildcontext

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Hash fills in the digest and xattrs of files, reading files in parallel
// and skipping those the stat cache vouches for.
func (c *Context) Hash(ctx context.Context, files []File) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(2 * runtime.GOMAXPROCS(0))
	for i := range files {
		f := &files[i]
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return c.hashFile(f)
		})
	}
	return g.Wait()
}

func (c *Context) hashFile(f *File) error {
	st, ok := f.Info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no stat data", f.Host)
	}
	if c.stats != nil {
		if e, ok := c.stats.lookup(f.Host, st); ok {
			f.Digest, f.Xattrs, f.Link = e.Digest, e.Xattrs, e.Link
			return nil
		}
	}
	if f.Info.Mode()&os.ModeSymlink != 0 {
		link, err := os.Readlink(f.Host)
		if err != nil {
			return err
		}
		f.Link = link
	}
	xattrs, err := ReadXattrs(f.Host)
	if err != nil {
		return err
	}
	f.Xattrs = xattrs
	if f.Info.Mode().IsRegular() {
		d, unchanged, err := hashContent(f.Host, st)
		if err != nil {
			return err
		}
		f.Digest = d
		if !unchanged {
			return nil // being written to: neither trust nor remember it
		}
	}
	if c.stats != nil {
		e := keyOf(st)
		e.Digest, e.Xattrs, e.Link = f.Digest, f.Xattrs, f.Link
		c.stats.store(f.Host, e)
	}
	return nil
}

// hashContent reads a file, and reports whether its stat data after the
// read is still the one it was listed with.
func hashContent(host string, before *syscall.Stat_t) (digest.Digest, bool, error) {
	fh, err := os.Open(host)
	if err != nil {
		return "", false, err
	}
	defer fh.Close()
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	// Hide fh's WriteTo, which io.CopyBuffer would call instead of using
	// buf: File.WriteTo copies through a fresh 32 KiB buffer of its own.
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{fh}, *buf); err != nil {
		return "", false, fmt.Errorf("read %s: %w", host, err)
	}
	var after syscall.Stat_t
	if err := syscall.Fstat(int(fh.Fd()), &after); err != nil {
		return "", false, err
	}
	return digest.NewDigest(digest.SHA256, h), sameStat(keyOf(before), keyOf(&after)), nil
}
