package registry

import (
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// selectPlatform picks the manifest of an index for want, by the rule of
// every transport (image.SelectIndex): attestation manifests are skipped,
// and left out of the platforms the error lists.
func selectPlatform(idx *ocispec.Index, want ocispec.Platform) (ocispec.Descriptor, error) {
	d, err := image.SelectIndex(idx.Manifests, want)
	if err != nil {
		return ocispec.Descriptor{}, fail(ErrNoPlatform, "%v", err)
	}
	return d, nil
}
