package image

import "context"

// writeProgressKey holds, in a context, the function told how many bytes
// of blobs an archive written with that context holds so far.
type writeProgressKey struct{}

// WithWriteProgress has the OCI archives written with ctx call fn with
// the bytes of blobs written so far: after each blob, and every 16 MiB
// of one copied from its file (see copyBlob).
func WithWriteProgress(ctx context.Context, fn func(written int64)) context.Context {
	return context.WithValue(ctx, writeProgressKey{}, fn)
}

// written counts the blob bytes an archive writer wrote, for ctx's
// WithWriteProgress function, if any.
type written struct {
	fn func(int64)
	n  int64
}

func newWritten(ctx context.Context) *written {
	fn, _ := ctx.Value(writeProgressKey{}).(func(int64))
	return &written{fn: fn}
}

// add counts n more bytes.
func (w *written) add(n int64) {
	w.n += n
	if w.fn != nil {
		w.fn(w.n)
	}
}
