package registry

import (
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// selectPlatform picks the manifest of an index for want, as
// image.SelectPlatform does.
func selectPlatform(idx *ocispec.Index, want ocispec.Platform) (ocispec.Descriptor, error) {
	if d, ok := image.SelectPlatform(idx.Manifests, want); ok {
		return d, nil
	}
	return ocispec.Descriptor{}, fail(ErrNoPlatform, "no image for platform %s (the index has %s)",
		image.FormatPlatform(want), platformList(idx))
}

// platformList lists the platforms of an index, leaving out attestations
// (unknown/unknown).
func platformList(idx *ocispec.Index) string {
	var list []string
	seen := map[string]bool{}
	for _, d := range idx.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		s := image.FormatPlatform(*d.Platform)
		if !seen[s] {
			seen[s] = true
			list = append(list, s)
		}
	}
	if len(list) == 0 {
		return "no platforms"
	}
	return strings.Join(list, ", ")
}
