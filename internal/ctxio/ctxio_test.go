package ctxio

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReaderStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Reader(ctx, strings.NewReader("abcdef"))
	buf := make([]byte, 3)
	if n, err := r.Read(buf); n != 3 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	cancel()
	if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

func TestReadCloserStopsOnCancelAndCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := &closeCounter{Reader: strings.NewReader("abcdef")}
	rc := ReadCloser(ctx, src)
	buf := make([]byte, 3)
	if n, err := rc.Read(buf); n != 3 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
	if err := rc.Close(); err != nil || src.closed != 1 {
		t.Fatalf("close: %v, closed %d times", err, src.closed)
	}
}
