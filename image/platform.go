package image

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// HostPlatform is the platform the builder runs on, normalized.
func HostPlatform() ocispec.Platform {
	return platforms.Normalize(ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH})
}

// ParsePlatform parses "os/arch[/variant]", or a lone architecture
// ("arm64", for linux/arm64), and normalizes it, as BuildKit does with
// containerd's platforms package: "linux/aarch64" and "linux/arm64/v8"
// are linux/arm64, "linux/arm" is linux/arm/v7, "linux/x86_64" is
// linux/amd64. A lone OS, which would mean this machine's architecture,
// is refused: a build's platform is said, not guessed.
func ParsePlatform(s string) (ocispec.Platform, error) {
	p, err := platforms.Parse(s)
	loneOS := !strings.Contains(s, "/") && strings.EqualFold(s, p.OS)
	if err != nil || loneOS || p.OS == "" || p.Architecture == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	return platforms.Normalize(p), nil
}

// SameOSArch reports whether a and b name the same OS and architecture,
// normalized: what BuildKit compares to warn of a base image for another
// platform.
func SameOSArch(a, b ocispec.Platform) bool {
	a, b = platforms.Normalize(a), platforms.Normalize(b)
	return a.OS == b.OS && a.Architecture == b.Architecture
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

// BuildKit's annotation for a manifest of an index that is no image but
// the attestations (provenance, SBOM) of one: its value is
// AttestationManifest, and its platform is unknown/unknown.
const (
	AnnotationReferenceType = "vnd.docker.reference.type"
	AttestationManifest     = "attestation-manifest"
)

// AnyLonePlatform, the zero platform, asks an OCI layout or archive for
// its lone image, whatever platform its index.json entry names; an image
// of a multi-platform index is still picked for its platform. FROM
// retries so, as BuildKit uses a single-platform base of another
// platform.
var AnyLonePlatform = ocispec.Platform{}

// ErrNoPlatform is wrapped by the error of an index, or a layout, that
// has no image for the platform asked for.
var ErrNoPlatform = errors.New("no image for the platform")

// IsAttestation reports whether d, a manifest of an index, describes
// attestations rather than an image: BuildKit annotates those, and gives
// them the platform unknown/unknown.
func IsAttestation(d ocispec.Descriptor) bool {
	if d.Annotations[AnnotationReferenceType] == AttestationManifest {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

// Images is descs without the attestation manifests: the images of an
// index.
func Images(descs []ocispec.Descriptor) []ocispec.Descriptor {
	images := make([]ocispec.Descriptor, 0, len(descs))
	for _, d := range descs {
		if !IsAttestation(d) {
			images = append(images, d)
		}
	}
	return images
}

// SelectPlatform picks, among descs (the manifests of an index), the image
// for want, in every transport alike, as BuildKit does with containerd's
// platforms.Only: platforms compared normalized (an index's
// linux/arm64/v8 is linux/arm64), an exact match first, else the best
// one the platform runs (linux/arm/v6 for linux/arm/v7, linux/386 for
// linux/amd64), the first of equals. Attestation manifests are never
// picked. A lone image without a platform is taken as it is. ok is false
// when none fits.
func SelectPlatform(descs []ocispec.Descriptor, want ocispec.Platform) (d ocispec.Descriptor, ok bool) {
	images := Images(descs)
	if len(images) == 1 && images[0].Platform == nil {
		return images[0], true
	}
	m := platforms.Only(want)
	best := -1
	for i, d := range images {
		if d.Platform != nil && m.Match(*d.Platform) && (best < 0 || m.Less(*d.Platform, *images[best].Platform)) {
			best = i
		}
	}
	if best < 0 {
		return ocispec.Descriptor{}, false
	}
	return images[best], true
}

// SelectIndex is SelectPlatform for the manifests of an index, with an
// error that wraps ErrNoPlatform and lists the platforms the index has:
// "no image for platform linux/s390x (the index has linux/amd64,
// linux/arm64/v8)".
func SelectIndex(descs []ocispec.Descriptor, want ocispec.Platform) (ocispec.Descriptor, error) {
	if d, ok := SelectPlatform(descs, want); ok {
		return d, nil
	}
	return ocispec.Descriptor{}, &platformError{fmt.Sprintf("no image for platform %s (the index has %s)", FormatPlatform(want), PlatformList(descs))}
}

// PlatformList lists the platforms of the images of an index, each once,
// in order, attestations left out: "linux/amd64, linux/arm64/v8".
func PlatformList(descs []ocispec.Descriptor) string {
	var list []string
	seen := map[string]bool{}
	for _, d := range Images(descs) {
		if d.Platform == nil {
			continue
		}
		s := FormatPlatform(*d.Platform)
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

// platformError tells, in its own words, that an index or a layout has
// no image for the platform; it matches ErrNoPlatform.
type platformError struct{ msg string }

func (e *platformError) Error() string { return e.msg }
func (e *platformError) Unwrap() error { return ErrNoPlatform }
