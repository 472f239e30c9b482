package rootfs

import (
	"context"
	"io"
)

// readProgressKey holds, in a context, the function told how much of a
// layer's blob an unpacking has read (see WithReadProgress).
type readProgressKey struct{}

// WithReadProgress has the unpackings done with ctx call fn with the
// bytes of the blob read so far: every MiB, and at its end. fn is not
// called for a layer unpacked already.
func WithReadProgress(ctx context.Context, fn func(read int64)) context.Context {
	return context.WithValue(ctx, readProgressKey{}, fn)
}

// readProgressStep is how many bytes pass between two calls.
const readProgressStep = 1 << 20

// progressReader counts what is read through it for WithReadProgress.
type progressReader struct {
	r          io.Reader
	fn         func(int64)
	read, last int64
}

// withReadProgress is r, counted for ctx's WithReadProgress function.
func withReadProgress(ctx context.Context, r io.Reader) io.Reader {
	fn, ok := ctx.Value(readProgressKey{}).(func(int64))
	if !ok {
		return r
	}
	fn(0)
	return &progressReader{r: r, fn: fn}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	if p.read-p.last >= readProgressStep || err == io.EOF {
		p.fn(p.read)
		p.last = p.read
	}
	return n, err
}
