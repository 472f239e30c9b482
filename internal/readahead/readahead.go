// Package readahead reads a stream ahead of its consumer, in a goroutine
// of its own, so that producing the bytes (decompressing, hashing) and
// using them (writing files) take a core each.
package readahead

import (
	"errors"
	"io"
	"sync"
)

// Reader reads the stream it was made for up to a fixed number of chunks
// ahead of its own Read. Close stops it and waits until it no longer reads
// the stream: only then may anything else read the stream again.
type Reader struct {
	full chan chunk
	free chan []byte
	stop chan struct{}
	done chan struct{}
	once sync.Once

	buf []byte // the chunk being read
	cur []byte // what is left of it
	err error  // the stream's error, once every chunk before it is read
}

type chunk struct {
	b   []byte
	err error
}

// ErrClosed is what Read returns after Close.
var ErrClosed = errors.New("read ahead: closed")

// New starts reading r in chunks of size bytes, at most n of them ahead.
func New(r io.Reader, size, n int) *Reader {
	a := &Reader{
		full: make(chan chunk, n),
		free: make(chan []byte, n),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	for range n {
		a.free <- make([]byte, size)
	}
	go a.fill(r)
	return a
}

// fill reads r into free chunks and hands them over, until r ends or
// fails, or Close.
func (a *Reader) fill(r io.Reader) {
	defer close(a.done)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.stop:
			return
		}
		n, err := readSome(r, buf)
		select {
		case a.full <- chunk{buf[:n], err}:
		case <-a.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// readSome reads r into buf until buf is full or r returns an error,
// which it returns as it is (io.EOF included).
func readSome(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Read reads what the stream gave, in order, then the stream's own error.
func (a *Reader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		a.recycle()
		if a.err != nil {
			return 0, a.err
		}
		c, ok := a.next()
		if !ok {
			return 0, ErrClosed
		}
		a.buf, a.cur, a.err = c.b, c.b, c.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// next waits for the next chunk, unless the reader is closed.
func (a *Reader) next() (chunk, bool) {
	select {
	case <-a.stop:
		return chunk{}, false
	default:
	}
	select {
	case c := <-a.full:
		return c, true
	case <-a.stop:
		return chunk{}, false
	}
}

// recycle gives the chunk read to its end back to fill. There are as many
// chunks as free has room for: this never blocks.
func (a *Reader) recycle() {
	if a.buf != nil {
		a.free <- a.buf[:cap(a.buf)]
		a.buf = nil
	}
}

// Close stops reading the stream and waits until the goroutine that read
// it has returned. It is safe to call more than once.
func (a *Reader) Close() error {
	a.once.Do(func() { close(a.stop) })
	<-a.done
	return nil
}
