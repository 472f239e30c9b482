package layerdiff

import (
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdBlock is the size of the pieces of a layer compressed as independent
// zstd frames, all at once. It is part of the output format: changing it
// changes every zstd digest.
const zstdBlock = 4 << 20

// zstdWriter compresses on every CPU, as pzstd does: the stream is cut into
// zstdBlock pieces, each becomes a whole zstd frame of its own, and the
// frames are written in order. A zstd stream may hold several frames
// (RFC 8878, section 3.1), and every decoder reads them back to back. The
// output depends on the input and level only, never on the number of CPUs.
// klauspost's own stream encoder encodes one block at a time, which keeps
// a layer export on one core.
type zstdWriter struct {
	enc *zstd.Encoder
	buf []byte
	// pending holds, in order, the frames being compressed; a goroutine
	// writes each one out as it is ready.
	pending chan chan []byte
	done    chan struct{}
	frames  int
	blocks  sync.Pool

	mu  sync.Mutex
	err error // the first write error

	closed   bool
	closeErr error // what Close returned
}

func newZstdWriter(w io.Writer, level int) (*zstdWriter, error) {
	procs := runtime.GOMAXPROCS(0)
	opts := []zstd.EOption{zstd.WithEncoderConcurrency(procs), zstd.WithZeroFrames(true)}
	if level != 0 {
		opts = append(opts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)))
	}
	enc, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	z := &zstdWriter{
		enc:     enc,
		pending: make(chan chan []byte, procs),
		done:    make(chan struct{}),
	}
	z.blocks.New = func() any { b := make([]byte, 0, zstdBlock); return &b }
	z.buf = z.block()
	go z.writeOut(w)
	return z, nil
}

func (z *zstdWriter) block() []byte { return (*z.blocks.Get().(*[]byte))[:0] }

func (z *zstdWriter) release(b []byte) { z.blocks.Put(&b) }

func (z *zstdWriter) Write(p []byte) (int, error) {
	if err := z.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(z.buf[len(z.buf):zstdBlock], p)
		z.buf, p = z.buf[:len(z.buf)+k], p[k:]
		if len(z.buf) == zstdBlock {
			z.flushBlock()
		}
	}
	return n, nil
}

// flushBlock starts compressing the current piece. It blocks while as many
// pieces as there are CPUs are still in flight, which bounds memory.
func (z *zstdWriter) flushBlock() {
	in, frame := z.buf, make(chan []byte, 1)
	z.pending <- frame
	go func() {
		out := z.enc.EncodeAll(in, z.block())
		z.release(in)
		frame <- out
	}()
	z.buf = z.block()
	z.frames++
}

func (z *zstdWriter) writeOut(w io.Writer) {
	defer close(z.done)
	for frame := range z.pending {
		out := <-frame
		if z.failed() == nil {
			if _, err := w.Write(out); err != nil {
				z.mu.Lock()
				z.err = err
				z.mu.Unlock()
			}
		}
		z.release(out)
	}
}

func (z *zstdWriter) failed() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.err
}

// Close compresses what is left (an empty stream still gets one frame)
// and waits for every frame to be written. Closing again returns the same.
func (z *zstdWriter) Close() error {
	if z.closed {
		return z.closeErr
	}
	z.closed = true
	if len(z.buf) > 0 || z.frames == 0 {
		z.flushBlock()
	}
	close(z.pending)
	<-z.done
	z.closeErr = z.failed()
	if err := z.enc.Close(); err != nil && z.closeErr == nil {
		z.closeErr = err
	}
	return z.closeErr
}
