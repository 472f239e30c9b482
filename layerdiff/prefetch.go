package layerdiff

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// A layer's small files are read, and hashed, ahead of the tar that
// holds them, by a few goroutines: the opens, reads and hashes of a COPY
// of thousands of files then run on another CPU than the tar and its
// diffID, and the tar finds each file's bytes waiting.
const (
	prefetchMax     = 256 << 10 // the largest file read ahead
	prefetchWorkers = 4
	prefetchAhead   = 64 // changes the walk runs ahead of the tar
)

// pending is a change on its way to the tar, with its content read ahead
// when it is a small regular file (pre, else nil).
type pending struct {
	c   Change
	pre chan prefetched
}

// prefetched is a file's content, read whole, its content digest (when
// the writer takes them) and its stat after the read.
type prefetched struct {
	data  []byte
	buf   *[]byte // data's buffer, from prefetchBufs
	d     digest.Digest
	after unix.Stat_t
	err   error
}

// errStopped ends the walk when the tar failed.
var errStopped = errors.New("stopped")

// prefetchable tells whether c's content is read ahead: a regular file
// of up to prefetchMax bytes, without holes.
func prefetchable(c Change) bool {
	return c.Kind != Delete && c.Info.Mode().IsRegular() && c.Info.Size() > 0 &&
		c.Info.Size() <= prefetchMax && !maybeSparse(c.Info)
}

// walkAhead runs the walk of changes in a goroutine of its own, reading
// small files ahead, and hands the changes to handle in order. The first
// error of handle stops the walk.
func walkAhead(ctx context.Context, changes func(fn func(Change) error) error, hash bool, handle func(pending) error) error {
	items := make(chan pending, prefetchAhead)
	stop := make(chan struct{})
	sem := make(chan struct{}, prefetchWorkers)
	var reads sync.WaitGroup
	// An inode of several names is read once: its later names are hard
	// links in the tar, with no content.
	linked := map[fileID]bool{}
	var walkErr error
	go func() {
		defer close(items)
		walkErr = changes(func(c Change) error {
			p := pending{c: c}
			if prefetchable(c) && firstName(c, linked) {
				p.pre = make(chan prefetched, 1)
				select {
				case sem <- struct{}{}:
				case <-stop:
					return errStopped
				case <-ctx.Done():
					return ctx.Err()
				}
				reads.Add(1)
				go func() {
					defer reads.Done()
					defer func() { <-sem }()
					p.pre <- prefetch(c, hash)
				}()
			}
			select {
			case items <- p:
				return nil
			case <-stop:
				return errStopped
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var err error
	for p := range items {
		if err == nil {
			if err = handle(p); err != nil {
				close(stop) // the walk sees it; what it queued is dropped
			}
		}
		p.done()
	}
	// No read outlives the call: the caller may remove the tree.
	reads.Wait()
	if err != nil {
		return err
	}
	return walkErr
}

// firstName tells whether c is the first name the walk met of its inode,
// noting it in seen when the inode has other names.
func firstName(c Change, seen map[fileID]bool) bool {
	st, ok := c.Info.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 {
		return true
	}
	id := fileID{dev: st.Dev, ino: st.Ino}
	if seen[id] {
		return false
	}
	seen[id] = true
	return true
}

// done gives back the buffer of content read ahead that the tar did not
// take (a change handled otherwise, or dropped after an error), once it
// is read.
func (p pending) done() {
	if p.pre == nil {
		return
	}
	select {
	case r := <-p.pre:
		r.release()
	default: // taken by the tar, which gave it back
	}
}

// prefetch reads c's file whole, hashing it when hash is set.
func prefetch(c Change, hash bool) prefetched {
	fd, err := unix.Open(c.HostPath, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return prefetched{err: &os.PathError{Op: "open", Path: c.HostPath, Err: err}}
	}
	defer unix.Close(fd)
	buf := prefetchBufs.Get().(*[]byte)
	data := (*buf)[:c.Info.Size()]
	n, err := io.ReadFull(fileReader(fd), data)
	if err != nil {
		prefetchBufs.Put(buf)
		return prefetched{err: fmt.Errorf("read %s: %w (%d of %d bytes)", c.HostPath, err, n, len(data))}
	}
	p := prefetched{data: data, buf: buf}
	if hash {
		sum := sha256.Sum256(data)
		p.d = digest.NewDigestFromBytes(digest.SHA256, sum[:])
	}
	if err := unix.Fstat(fd, &p.after); err != nil {
		prefetchBufs.Put(buf)
		return prefetched{err: &os.PathError{Op: "fstat", Path: c.HostPath, Err: err}}
	}
	return p
}

// prefetchBufs hold the files read ahead: the tar writer gives each back
// once it wrote its bytes, walkAhead one the tar did not take.
var prefetchBufs = sync.Pool{New: func() any { b := make([]byte, prefetchMax); return &b }}

// release gives p's buffer back.
func (p prefetched) release() {
	if p.buf != nil {
		prefetchBufs.Put(p.buf)
	}
}

// fileReader reads a descriptor with read(2), as copyRange does.
type fileReader int

func (r fileReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), p)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// unchangedBy tells whether the file whose lstat was fi before a read had
// the same stat after it (after): a content digest taken by that read
// is the file's.
func unchangedBy(fi os.FileInfo, size int64, after *unix.Stat_t) bool {
	before, ok := fi.Sys().(*syscall.Stat_t)
	return ok && before.Size == size && after.Size == size && before.Ino == after.Ino &&
		before.Ctim.Nano() == after.Ctim.Nano() && before.Mtim.Nano() == after.Mtim.Nano()
}
