package layer

import (
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layer is a layer blob: the compressed tar a manifest lists, and the
// diffID of the tar inside, which the image config lists. Its JSON form is
// what the cache's step records hold.
type Layer struct {
	MediaType string        `json:"media_type"`
	Digest    digest.Digest `json:"digest"`  // of the blob
	DiffID    digest.Digest `json:"diff_id"` // of the uncompressed tar
	Size      int64         `json:"size"`    // of the blob
	// Level is the compression level the blob was written with: 0 for
	// the compressor's default, and for a layer mybuild did not compress
	// (a base image's), whose level nobody knows.
	Level int `json:"level,omitempty"`
}

// Descriptor is the layer's entry in a manifest.
func (l Layer) Descriptor() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}
}

// Compression is how the blob is compressed, as its media type and level
// tell.
func (l Layer) Compression() Compression {
	return Compression{Algorithm: AlgorithmOf(l.MediaType), Level: l.Level}
}
