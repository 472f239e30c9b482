package layer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/mybuild/mybuild/internal/ctxio"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Sniff tells the compression of a layer blob from its first bytes (four
// are enough): gzip, zstd, or else none.
func Sniff(head []byte) Algorithm {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	}
	return Uncompressed
}

// Decompress returns the uncompressed stream of r, compressed as
// mediaType (OCI or Docker) says, or as its first bytes say when the
// media type does not. Close releases the decoder; it does not close r.
//
// The reader reads r to its end, even when it fails: a store's blob (see
// cache.Store.OpenBlob) checks its content only at its end, while a
// decoder fails on damaged bytes before that. So when decoding fails
// before r's end, the rest of r is read, and r's own error, if it has
// one, is returned in place of the decoder's: a damaged blob says it is
// damaged (and the store drops it). That reading stops once ctx is done;
// the decoder's error stands then.
func Decompress(ctx context.Context, r io.Reader, mediaType string) (*Decompressed, error) {
	return newDecompressor(ctx, r, mediaType)
}

// Decompressed is the uncompressed stream of a blob, as Decompress
// returns it.
type Decompressed struct {
	ctx     context.Context
	src     *source
	dec     io.Reader // src decoded
	release func()
	err     error // sticky: how reading ended
}

// source is the compressed stream, which remembers how it ended.
type source struct {
	r   io.Reader
	err error // the first error of r, io.EOF included
}

func (s *source) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.err = err
	return n, err
}

func newDecompressor(ctx context.Context, r io.Reader, mediaType string) (*Decompressed, error) {
	d := &Decompressed{ctx: ctx, src: &source{r: r}, release: func() {}}
	var in io.Reader = d.src
	c := AlgorithmOf(mediaType)
	if c == "" {
		br := bufio.NewReader(in)
		head, _ := br.Peek(len(zstdMagic)) // short at EOF: not compressed then
		c, in = Sniff(head), br
	}
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, d.Blame(fmt.Errorf("gzip: %w", err))
		}
		d.dec, d.release = zr, func() { zr.Close() }
	case Zstd:
		// One block at a time, in the caller's goroutine: no goroutine
		// reads r behind the caller's back (blame reads it too), and
		// none is left running by a reader never closed.
		zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, d.Blame(fmt.Errorf("zstd: %w", err))
		}
		d.dec, d.release = zr, zr.Close
	default:
		d.dec = in
	}
	return d, nil
}

func (d *Decompressed) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.dec.Read(p)
	switch {
	case err == io.EOF:
		// The stream is whole; read r to its end all the same (as a rule
		// nothing is left), so that r checks itself.
		d.err = io.EOF
		if rerr := d.drain(); rerr != nil {
			d.err = rerr
		}
	case err != nil:
		d.err = d.Blame(err)
	}
	return n, d.err
}

// Blame returns err, why reading stopped before the end of r, unless r
// has an error of its own, which is then the cause. A caller that fails
// on what it read (a tar reader) calls it too.
func (d *Decompressed) Blame(err error) error {
	if d.err != nil && d.err != io.EOF {
		// Blamed already. err comes from d.err, unless the stream was
		// read ahead of the caller, who failed on earlier bytes: the
		// stream's own error is the cause then.
		if errors.Is(err, d.err) {
			return err
		}
		return d.err
	}
	if rerr := d.drain(); rerr != nil {
		d.err = rerr
	} else {
		d.err = err
	}
	return d.err
}

// drain reads what is left of r, unless ctx is done, and returns r's
// error, if it has one.
func (d *Decompressed) drain() error {
	if d.src.err == nil {
		d.Close() // the decoder reads r no more
		io.Copy(io.Discard, ctxio.Reader(d.ctx, d.src))
	}
	if d.src.err == io.EOF {
		return nil
	}
	return d.src.err
}

// Close releases the decoder. It does not close r.
func (d *Decompressed) Close() error {
	d.release()
	d.release = func() {}
	return nil
}
