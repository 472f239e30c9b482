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
	"time"

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

// hashFile fills in f, once per file and stat data in the Context's life
// (unless it changed just before it was read, see memoMargin): the COPYs
// of a build, and each platform's, that name a file share its hash.
func (c *Context) hashFile(f *File) error {
	st, ok := f.Info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no stat data", f.Host)
	}
	call, first := c.hashed.start(f.Host, keyOf(st))
	if !first {
		<-call.done
		if call.ok {
			f.Digest, f.Xattrs, f.Link = call.e.Digest, call.e.Xattrs, call.e.Link
			return nil
		}
		return c.hashNow(f, st, nil)
	}
	defer close(call.done)
	return c.hashNow(f, st, call)
}

// memoMargin is more than a tick of the clock that gives e its ctime: a
// file whose last change is older than this before it was read changes
// its stat data with any change after the read, so its hash can be
// shared. 50 ms covers the coarse clock of nanosecond timestamps; a
// filesystem whose times have whole seconds (no nanoseconds here) gets
// racyWindow, as the stat cache kept between builds does.
func memoMargin(e statEntry) time.Duration {
	if e.Ctime%int64(time.Second) == 0 && e.Mtime%int64(time.Second) == 0 {
		return racyWindow
	}
	return 50 * time.Millisecond
}

// hashMemo holds the files a Context hashed, by host path.
type hashMemo struct {
	mu    sync.Mutex
	calls map[string]*hashCall
}

// hashCall is the hash of one file with the stat data key, done once
// done is closed; ok says it can be used, the file having not changed
// while it was read.
type hashCall struct {
	key  statEntry
	done chan struct{}
	e    statEntry
	ok   bool
}

// start returns the hash of host with the stat data key, and whether the
// caller is the first to ask for it, which must make it.
func (m *hashMemo) start(host string, key statEntry) (*hashCall, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.calls[host]; ok && sameStat(c.key, key) {
		return c, false
	}
	if m.calls == nil {
		m.calls = map[string]*hashCall{}
	}
	c := &hashCall{key: key, done: make(chan struct{})}
	m.calls[host] = c
	return c, true
}

// hashNow reads f, or takes it from the stat cache, and fills in call
// when it can be trusted.
func (c *Context) hashNow(f *File, st *syscall.Stat_t, call *hashCall) error {
	started := time.Now()
	if c.stats != nil {
		if e, ok := c.stats.lookup(f.Host, st); ok {
			f.Digest, f.Xattrs, f.Link = e.Digest, e.Xattrs, e.Link
			if call != nil {
				call.e, call.ok = e, true // older than the racy window
			}
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
	e := keyOf(st)
	e.Digest, e.Xattrs, e.Link = f.Digest, f.Xattrs, f.Link
	if call != nil && e.Ctime < started.Add(-memoMargin(e)).UnixNano() {
		// A file changed just before this read could change again with
		// the same stat data: the next COPY reads it again.
		call.e, call.ok = e, true
	}
	if c.stats != nil {
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
