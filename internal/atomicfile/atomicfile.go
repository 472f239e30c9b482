// Package atomicfile writes a file so that readers see the old one or the whole new one, never a part.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/mybuild/mybuild/internal/writeback"
)

// Option changes how Write writes.
type Option func(*options)

type options struct {
	tempDir      string
	mode         os.FileMode
	noSync       bool
	beforeRename func() error
}

// WithTempDir writes the temp file in dir, which must be on path's
// filesystem, instead of path's own directory: a store that cleans its
// scratch dir of what a crash left keeps it there.
func WithTempDir(dir string) Option { return func(o *options) { o.tempDir = dir } }

// WithMode gives the file mode m instead of 0644.
func WithMode(m os.FileMode) Option { return func(o *options) { o.mode = m } }

// WithoutSync skips the fsync before the rename: after a crash, path may
// be empty or the old file. For a file whose readers take an unreadable
// one for none, and are safe with the old one.
func WithoutSync() Option { return func(o *options) { o.noSync = true } }

// BeforeRename has Write call fn once the temp file is written (and
// synced, without WithoutSync), before it renames it into place; an
// error of fn fails Write and leaves path as it was. It lets the rename
// wait for something the new file vouches for, without holding up the
// writing of it.
func BeforeRename(fn func() error) Option { return func(o *options) { o.beforeRename = fn } }

// buffers are the write buffers of Write, a megabyte each (an archive
// is written in large writes), shared by every Write of the process: a
// step writes several small files (its record, its seals), which would
// otherwise allocate and clear one each.
var buffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}

// writer is what Write hands its function: the buffered writer of the
// temp file, and the file's writeback when it is synced.
type writer struct {
	*bufio.Writer
	wb *writeback.Writer
}

// StartWriteback has the disk start on all that the function given to
// Write wrote to w so far: it empties w's buffer into the file, and has
// the kernel start writing the file (writeback.Writer.Start). A function
// that writes most of a file early, then waits for the rest, leaves less
// to the sync that ends Write. With WithoutSync, or for any other writer,
// it does nothing.
func StartWriteback(w io.Writer) error {
	fw, ok := w.(*writer)
	if !ok || fw.wb == nil {
		return nil
	}
	if err := fw.Flush(); err != nil {
		return err
	}
	fw.wb.Start()
	return nil
}

// Write creates or replaces path with what write produces, mode 0644. It
// writes a temp file in the same directory, syncs it and renames it over
// path, so path is either the old file or the whole new one, never a part;
// on failure, a panic of write included, the temp file is removed.
func Write(path string, write func(io.Writer) error, opts ...Option) error {
	o := options{tempDir: filepath.Dir(path), mode: 0o644}
	for _, opt := range opts {
		opt(&o)
	}
	f, err := os.CreateTemp(o.tempDir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var out io.Writer = f
	w := &writer{}
	if !o.noSync {
		// The disk writes while the rest is produced: the sync waits less.
		w.wb = writeback.New(f)
		out = w.wb
	}
	bw := buffers.Get().(*bufio.Writer)
	bw.Reset(out)
	w.Writer = bw
	defer func() {
		bw.Reset(nil)
		buffers.Put(bw)
	}()
	if err := write(w); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(o.mode); err != nil {
		return err
	}
	if !o.noSync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if o.beforeRename != nil {
		if err := o.beforeRename(); err != nil {
			return err
		}
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	committed = true
	return nil
}
