package registry

import (
	"errors"
	"io"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/internal/readprogress"
	"github.com/mybuild/mybuild/layer"
)

// storeLayer is a layer blob of an image.Store as ggcr sees a layer, for
// upload. Only what an upload needs works: its compressed bytes, digest,
// size and media type.
type storeLayer struct {
	store image.Store
	l     layer.Layer
	// emit reports upload progress; nil for none.
	emit func(done int64)
	// opened is set once the bytes were asked for: the registry did not
	// have the blob, and could not mount it.
	opened atomic.Bool
	// readErr is the last error reading the blob from the store, which
	// the HTTP client reports as a failed request.
	readErr atomic.Pointer[error]
}

var _ v1.Layer = (*storeLayer)(nil)

func (s *storeLayer) Digest() (v1.Hash, error) { return v1.NewHash(s.l.Digest.String()) }
func (s *storeLayer) DiffID() (v1.Hash, error) { return v1.NewHash(s.l.DiffID.String()) }
func (s *storeLayer) Size() (int64, error)     { return s.l.Size, nil }

func (s *storeLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(s.l.MediaType), nil
}

// Compressed reads the blob from the store, which fails at its end if
// the bytes do not match the digest: a damaged blob is never pushed.
func (s *storeLayer) Compressed() (io.ReadCloser, error) {
	s.opened.Store(true)
	rc, _, err := s.store.OpenBlob(s.l.Digest)
	if err != nil {
		return nil, err
	}
	var r io.Reader = rc
	if s.emit != nil {
		r = readprogress.New(rc, s.emit)
	}
	return &blobReader{r: r, c: rc, s: s}, nil
}

// storeErr is the error of reading the blob, if there was one.
func (s *storeLayer) storeErr() error {
	if p := s.readErr.Load(); p != nil {
		return *p
	}
	return nil
}

// blobReader reads a blob from the store through r, noting the last read
// error in s, and closes c, the store's reader.
type blobReader struct {
	r io.Reader
	c io.Closer
	s *storeLayer
}

func (b *blobReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.s.readErr.Store(&err)
	}
	return n, err
}

func (b *blobReader) Close() error { return b.c.Close() }

func (s *storeLayer) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("registry: uncompressed layer not available")
}
