package fswrite

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// rawFile is a file opened with open(2) alone. An os.File costs four more
// system calls per file (it tries the poller, which refuses regular files,
// and Fd switches it back to blocking mode), which unpacking thousands of
// files feels.
type rawFile struct {
	fd   int
	name string
}

// createFile creates the regular file path, 0600 until its metadata is
// applied; something already there, even a dangling symlink, is an error.
func createFile(path string) (*rawFile, error) {
	return openRaw(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
}

// openRead opens the file path to read, not following a symlink.
func openRead(path string) (*rawFile, error) {
	return openRaw(path, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
}

// openRaw is open(2) with flags, close-on-exec.

func openRaw(path string, flags int, perm uint32) (*rawFile, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(path, flags|unix.O_CLOEXEC, perm)
		return err
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &rawFile{fd: fd, name: path}, nil
}

func (f *rawFile) err(op string, err error) error {
	return &os.PathError{Op: op, Path: f.name, Err: err}
}

func (f *rawFile) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, f.err("read", err)
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write writes all of p.
func (f *rawFile) Write(p []byte) (int, error) {
	return f.writeAll(p, 0, func(b []byte, _ int64) (int, error) { return unix.Write(f.fd, b) })
}

// WriteAt writes all of p at off.
func (f *rawFile) WriteAt(p []byte, off int64) (int, error) {
	return f.writeAll(p, off, func(b []byte, at int64) (int, error) { return unix.Pwrite(f.fd, b, at) })
}

// writeAll calls write until all of p is written, p[i] at off+i, again
// when a signal interrupts it.
func (f *rawFile) writeAll(p []byte, off int64, write func(b []byte, at int64) (int, error)) (int, error) {
	done := 0
	for done < len(p) {
		n, err := write(p[done:], off+int64(done))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return done, f.err("write", err)
		}
		done += n
	}
	return done, nil
}

// ReadFrom copies r to f: in the kernel (copy_file_range) when r is a
// rawFile the kernel can copy from, else through a buffer.
func (f *rawFile) ReadFrom(r io.Reader) (int64, error) {
	var done int64
	if src, ok := r.(*rawFile); ok {
		for {
			n, err := unix.CopyFileRange(src.fd, nil, f.fd, nil, 1<<30, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				if done == 0 && fallBack(err) {
					break // nothing copied yet: through a buffer, below
				}
				return done, f.err("copy_file_range", err)
			}
			if n == 0 {
				return done, nil
			}
			done += int64(n)
		}
	}
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, r, *buf)
	return done + n, err
}

// fallBack tells whether copy_file_range's err means "not between these
// files", to be done through a buffer instead.
func fallBack(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EIO)
}

func (f *rawFile) Truncate(size int64) error {
	if err := ignoringEINTR(func() error { return unix.Ftruncate(f.fd, size) }); err != nil {
		return f.err("truncate", err)
	}
	return nil
}

func (f *rawFile) Stat(st *unix.Stat_t) error {
	if err := unix.Fstat(f.fd, st); err != nil {
		return f.err("fstat", err)
	}
	return nil
}

// Close closes the file once; EINTR from close(2) still closes it.
func (f *rawFile) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	if err != nil && !errors.Is(err, unix.EINTR) {
		return f.err("close", err)
	}
	return nil
}
