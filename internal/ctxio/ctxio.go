// Package ctxio stops a long copy once its context is done.
package ctxio

import (
	"context"
	"io"
)

// Reader returns a reader of r that fails with ctx's error once ctx is
// done, so that copying a large blob stops soon after a cancel.
func Reader(ctx context.Context, r io.Reader) io.Reader { return &reader{ctx, r} }

// ReadCloser is Reader for rc; closing it closes rc.
func ReadCloser(ctx context.Context, rc io.ReadCloser) io.ReadCloser {
	return &readCloser{reader{ctx, rc}, rc}
}

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c *reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type readCloser struct {
	reader
	io.Closer
}
