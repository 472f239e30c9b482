package layer

import (
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Algorithm is a compression algorithm of layer blobs.
type Algorithm string

// The algorithms mybuild writes and reads.
const (
	Gzip         Algorithm = "gzip"
	Zstd         Algorithm = "zstd"
	Uncompressed Algorithm = "none"
)

// Compression is how a blob is compressed: an algorithm, and its level (0
// for the algorithm's default). The zero Compression is gzip at its
// default level, as mybuild writes layers unless told otherwise.
type Compression struct {
	Algorithm Algorithm
	Level     int
}

// ParseCompression parses a --compression value and checks level against
// it: gzip takes 1 to 9, zstd 1 to 22, none no level; 0 is always the
// default.
func ParseCompression(name string, level int) (Compression, error) {
	a := Algorithm(name)
	maxLevel := 0
	switch a {
	case Gzip:
		maxLevel = 9
	case Zstd:
		maxLevel = 22
	case Uncompressed:
	default:
		return Compression{}, fmt.Errorf("unknown compression %q (want gzip, zstd or none)", name)
	}
	if level < 0 || level > maxLevel {
		if maxLevel == 0 {
			return Compression{}, fmt.Errorf("compression %s takes no level", a)
		}
		return Compression{}, fmt.Errorf("compression level %d is out of range for %s (1 to %d)", level, a, maxLevel)
	}
	return Compression{Algorithm: a, Level: level}, nil
}

// OrDefault is c, or gzip at its default level for the zero Compression.
func (c Compression) OrDefault() Compression {
	if c.Algorithm == "" {
		return Compression{Algorithm: Gzip, Level: c.Level}
	}
	return c
}

// String is the algorithm, and the level when it is not the default:
// "gzip", "zstd level 19".
func (c Compression) String() string {
	c = c.OrDefault()
	if c.Level == 0 {
		return string(c.Algorithm)
	}
	return fmt.Sprintf("%s level %d", c.Algorithm, c.Level)
}

// MediaType is the OCI layer media type of a blob compressed with c.
func (c Compression) MediaType() (string, error) {
	switch c.OrDefault().Algorithm {
	case Gzip:
		return ocispec.MediaTypeImageLayerGzip, nil
	case Zstd:
		return ocispec.MediaTypeImageLayerZstd, nil
	case Uncompressed:
		return ocispec.MediaTypeImageLayer, nil
	}
	return "", fmt.Errorf("unknown compression %q", string(c.Algorithm))
}

// AlgorithmOf tells the compression algorithm of a layer media type, OCI
// or Docker; "" when the media type does not say.
func AlgorithmOf(mediaType string) Algorithm {
	switch {
	case strings.HasSuffix(mediaType, "+gzip"), strings.HasSuffix(mediaType, ".gzip"):
		return Gzip
	case strings.HasSuffix(mediaType, "+zstd"), strings.HasSuffix(mediaType, ".zstd"):
		return Zstd
	case strings.HasSuffix(mediaType, ".tar"):
		return Uncompressed // application/vnd.oci.image.layer.v1.tar, ...rootfs.diff.tar
	}
	return ""
}
