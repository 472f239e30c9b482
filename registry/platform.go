package registry

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// selectPlatform picks the manifest of an index for want: one whose
// variant matches exactly first, then one where either side leaves the
// variant open. A lone entry without a platform is taken as it is.
func selectPlatform(idx *v1.IndexManifest, want ocispec.Platform) (v1.Descriptor, error) {
	if len(idx.Manifests) == 1 && idx.Manifests[0].Platform == nil {
		return idx.Manifests[0], nil
	}
	var loose *v1.Descriptor
	for i, d := range idx.Manifests {
		p := d.Platform
		if p == nil || p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if p.Variant == want.Variant {
			return d, nil
		}
		if loose == nil && (p.Variant == "" || want.Variant == "") {
			loose = &idx.Manifests[i]
		}
	}
	if loose != nil {
		return *loose, nil
	}
	return v1.Descriptor{}, fail(ErrNoPlatform, "no image for platform %s (the index has %s)",
		image.FormatPlatform(want), platformList(idx))
}

// platformList lists the platforms of an index, leaving out attestations
// (unknown/unknown).
func platformList(idx *v1.IndexManifest) string {
	var list []string
	seen := map[string]bool{}
	for _, d := range idx.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		s := image.FormatPlatform(ocispec.Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant})
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
