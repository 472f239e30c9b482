package imagetest

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

type compression int

const (
	uncompressed compression = iota
	gzipped
	zstded
)

// layerCompression maps a layer media type (OCI, OCI non-distributable or
// Docker schema 2) to its compression.
func layerCompression(mediaType string) (compression, error) {
	switch {
	case strings.HasSuffix(mediaType, "+gzip"), strings.HasSuffix(mediaType, ".tar.gzip"):
		return gzipped, nil
	case strings.HasSuffix(mediaType, "+zstd"), strings.HasSuffix(mediaType, ".tar.zstd"):
		return zstded, nil
	case strings.HasSuffix(mediaType, ".tar"):
		return uncompressed, nil
	}
	return 0, fmt.Errorf("unsupported layer media type %q", mediaType)
}

// walkLayer streams the tar of one layer to fn, then reads the blob to its
// end and verifies both its digest and size (from desc) and the digest of
// the uncompressed tar (diffID).
func walkLayer(l layout, desc ocispec.Descriptor, diffID digest.Digest, fn func(*tar.Reader) error) (err error) {
	comp, err := layerCompression(desc.MediaType)
	if err != nil {
		return err
	}
	if err := desc.Digest.Validate(); err != nil {
		return err
	}
	blob, err := l.open(blobPath(desc.Digest))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, blob.Close()) }()

	blobDigest := desc.Digest.Algorithm().Digester()
	raw := &countingReader{r: io.TeeReader(blob, blobDigest.Hash())}
	var tarStream io.Reader
	switch comp {
	case uncompressed:
		tarStream = raw
	case gzipped:
		zr, zerr := gzip.NewReader(raw)
		if zerr != nil {
			return fmt.Errorf("gzip: %w", zerr)
		}
		defer func() { err = errors.Join(err, zr.Close()) }()
		tarStream = zr
	case zstded:
		zr, zerr := zstd.NewReader(raw)
		if zerr != nil {
			return fmt.Errorf("zstd: %w", zerr)
		}
		defer zr.Close()
		tarStream = zr
	}
	diffDigest := diffID.Algorithm().Digester()
	tarStream = io.TeeReader(tarStream, diffDigest.Hash())

	if err := fn(tar.NewReader(tarStream)); err != nil {
		return err
	}
	// The tar reader stops at the end-of-archive marker; the digests cover
	// the padding after it and, for compressed blobs, the trailer.
	if _, err := io.Copy(io.Discard, tarStream); err != nil {
		return fmt.Errorf("read to end: %w", err)
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return fmt.Errorf("read to end: %w", err)
	}
	if raw.n != desc.Size {
		return fmt.Errorf("blob is %d bytes, descriptor says %d", raw.n, desc.Size)
	}
	if got := blobDigest.Digest(); got != desc.Digest {
		return fmt.Errorf("blob has digest %s", got)
	}
	if got := diffDigest.Digest(); got != diffID {
		return fmt.Errorf("uncompressed layer has digest %s, config diff_id is %s", got, diffID)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
