// Package readprogress tells how much of a stream has been read, as it is read.
package readprogress

import "io"

// step is how many bytes pass between two reports.
const step = 1 << 20

// New returns r, whose reads call fn with the bytes read so far: once
// with 0 first, then every MiB, and at the end of the stream.
func New(r io.Reader, fn func(read int64)) io.Reader {
	fn(0)
	return &reader{r: r, fn: fn}
}

type reader struct {
	r          io.Reader
	fn         func(int64)
	read, last int64
}

func (p *reader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	if p.read-p.last >= step || err == io.EOF && p.read > p.last {
		p.fn(p.read)
		p.last = p.read
	}
	return n, err
}
