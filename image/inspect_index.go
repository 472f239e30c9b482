package image

import (
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// IndexInfo is the index an inspected image was picked from, for its
// platform: the index's own descriptor and the images it lists.
type IndexInfo struct {
	MediaType string          `json:"mediaType"`
	Digest    digest.Digest   `json:"digest"`
	Images    []PlatformImage `json:"images"`
}

// PlatformImage is one image of an index.
type PlatformImage struct {
	Platform  string        `json:"platform"` // os/arch[/variant]; "" for none
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
}

// NewIndexInfo describes the index desc, which holds idx: its images,
// attestation manifests left out.
func NewIndexInfo(desc ocispec.Descriptor, idx *ocispec.Index) *IndexInfo {
	info := &IndexInfo{MediaType: desc.MediaType, Digest: desc.Digest, Images: []PlatformImage{}}
	for _, d := range Images(idx.Manifests) {
		p := ""
		if d.Platform != nil {
			p = FormatPlatform(*d.Platform)
		}
		info.Images = append(info.Images, PlatformImage{Platform: p, MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
	}
	return info
}

// lines lists the images, one per line: the platform and the digest,
// the one shown (digest shown) marked.
func (x *IndexInfo) lines(shown digest.Digest) []string {
	out := make([]string, len(x.Images))
	for i, img := range x.Images {
		p := img.Platform
		if p == "" {
			p = "-"
		}
		out[i] = p + " " + img.Digest.String()
		if img.Digest == shown {
			out[i] += " (shown)"
		}
	}
	return out
}
