package image

import (
	"fmt"
	"runtime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// HostPlatform is the platform the builder runs on.
func HostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "arm64":
		p.Variant = "v8"
	case "arm":
		p.Variant = "v7"
	}
	return p
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// FormatPlatform renders p as os/arch[/variant].
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// MaxIndexDepth bounds how deep image indexes may nest on the way from a
// reference to its manifest: an index naming an index naming a manifest is
// two deep. (An OCI layout's index.json counts as one.)
const MaxIndexDepth = 4

// SelectPlatform picks, among descs (the manifests of an index), the image
// for want: one whose platform matches exactly, variant included, first;
// else the first one where either side leaves the variant open. A lone
// descriptor without a platform is taken as it is. ok is false when none
// fits.
func SelectPlatform(descs []ocispec.Descriptor, want ocispec.Platform) (d ocispec.Descriptor, ok bool) {
	if len(descs) == 1 && descs[0].Platform == nil {
		return descs[0], true
	}
	loose := -1
	for i, d := range descs {
		p := d.Platform
		if p == nil || p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if p.Variant == want.Variant {
			return d, true
		}
		if loose < 0 && (p.Variant == "" || want.Variant == "") {
			loose = i
		}
	}
	if loose < 0 {
		return ocispec.Descriptor{}, false
	}
	return descs[loose], true
}
