package readahead

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestReadAll(t *testing.T) {
	data := make([]byte, 1<<18+123)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	for _, size := range []int{1, 7, 4096, 1 << 20} {
		// OneByteReader: the source gives little at a time; HalfReader:
		// the consumer takes little at a time.
		a := New(iotest.OneByteReader(bytes.NewReader(data)), size, 3)
		got, err := io.ReadAll(iotest.HalfReader(a))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes, not the %d written", size, len(got), len(data))
		}
		a.Close()
	}
}

func TestSourceError(t *testing.T) {
	boom := errors.New("boom")
	a := New(io.MultiReader(bytes.NewReader([]byte("hello")), iotest.ErrReader(boom)), 2, 2)
	defer a.Close()
	got, err := io.ReadAll(a)
	if string(got) != "hello" || !errors.Is(err, boom) {
		t.Fatalf("got %q, %v; want \"hello\", boom", got, err)
	}
	// The error sticks.
	if n, err := a.Read(make([]byte, 1)); n != 0 || !errors.Is(err, boom) {
		t.Fatalf("read again: %d, %v", n, err)
	}
}

// blocking gives one byte, then blocks until release is closed, and
// counts its reads.
type blocking struct {
	release chan struct{}
	reads   int
}

func (b *blocking) Read(p []byte) (int, error) {
	b.reads++
	if b.reads == 1 {
		p[0] = 'x'
		return 1, nil
	}
	<-b.release
	return 0, io.EOF
}

// TestClose: once Close returns, the stream is read no more, and Read
// says the reader is closed.
func TestClose(t *testing.T) {
	src := &blocking{release: make(chan struct{})}
	a := New(src, 1, 1)
	p := make([]byte, 1)
	if n, err := a.Read(p); n != 1 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	closed := make(chan struct{})
	go func() { a.Close(); close(closed) }()
	close(src.release) // fill was blocked in Read: it returns now
	<-closed
	reads := src.reads
	if _, err := a.Read(p); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v, want ErrClosed", err)
	}
	if src.reads != reads {
		t.Fatalf("the stream was read after Close")
	}
	a.Close() // twice is fine
}
