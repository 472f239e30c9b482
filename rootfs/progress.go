package rootfs

import (
	"context"
	"io"

	"github.com/mybuild/mybuild/internal/readprogress"
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

// withReadProgress is r, counted for ctx's WithReadProgress function.
func withReadProgress(ctx context.Context, r io.Reader) io.Reader {
	fn, ok := ctx.Value(readProgressKey{}).(func(int64))
	if !ok {
		return r
	}
	return readprogress.New(r, fn)
}
