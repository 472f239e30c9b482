package image

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// HostPlatform is the platform the builder runs on, normalized.
func HostPlatform() ocispec.Platform {
	return NormalizePlatform(ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH})
}

// ParsePlatform parses "os/arch[/variant]", or a lone architecture
// ("arm64", for linux/arm64), and normalizes it as BuildKit does:
// "linux/aarch64" and "linux/arm64/v8" are linux/arm64, "linux/arm" is
// linux/arm/v7, "linux/x86_64" is linux/amd64.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) == 1 && parts[0] != "" && knownArch(parts[0]) {
		parts = []string{"linux", parts[0]}
	}
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return NormalizePlatform(p), nil
}

// NormalizePlatform spells p as containerd's platforms.Normalize does,
// which BuildKit uses for --platform, the TARGET* args and the platforms
// of the indexes it writes: lower case, the Go names of architectures,
// arm64's v8 and amd64's v1 left out as the defaults they are, arm's v7
// made explicit.
func NormalizePlatform(p ocispec.Platform) ocispec.Platform {
	p.OS = strings.ToLower(p.OS)
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	arch, variant := strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	switch arch {
	case "i386":
		arch, variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		arch = "amd64"
		if variant == "v1" {
			variant = ""
		}
	case "aarch64", "arm64":
		arch = "arm64"
		switch variant {
		case "8", "v8", "v8.0":
			variant = ""
		case "9", "9.0", "v9.0":
			variant = "v9"
		}
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
	}
	p.Architecture, p.Variant = arch, variant
	return p
}

// knownArch reports whether s names an architecture, so that a platform
// given as one word is taken for linux on it.
func knownArch(s string) bool {
	n := NormalizePlatform(ocispec.Platform{Architecture: s}).Architecture
	switch n {
	case "386", "amd64", "arm", "arm64", "ppc64le", "s390x", "riscv64", "mips64le", "loong64", "ppc64", "mips64", "mipsle", "mips":
		return true
	}
	return false
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
// for want, in every transport alike. Attestation manifests are never
// picked. Platforms are compared normalized (an index's linux/arm64/v8
// is linux/arm64). Among the images, one whose platform matches exactly,
// variant included, comes first; else the first one where either side
// leaves the variant open; else, for arm (whose variant is never open),
// the newest older variant the CPU runs, as containerd picks it:
// linux/arm/v6 for linux/arm/v7. A lone image without a platform is
// taken as it is. ok is false when none fits.
func SelectPlatform(descs []ocispec.Descriptor, want ocispec.Platform) (d ocispec.Descriptor, ok bool) {
	images := Images(descs)
	if len(images) == 1 && images[0].Platform == nil {
		return images[0], true
	}
	loose, older := -1, -1
	want = NormalizePlatform(want)
	for i, d := range images {
		if d.Platform == nil {
			continue
		}
		p := NormalizePlatform(*d.Platform)
		if p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if p.Variant == want.Variant {
			return d, true
		}
		if loose < 0 && (p.Variant == "" || want.Variant == "") {
			loose = i
		}
		if p.Architecture == "arm" && armRuns(want.Variant, p.Variant) && (older < 0 || p.Variant > NormalizePlatform(*images[older].Platform).Variant) {
			older = i
		}
	}
	switch {
	case loose >= 0:
		return images[loose], true
	case older >= 0:
		return images[older], true
	}
	return ocispec.Descriptor{}, false
}

// armRuns reports whether an arm CPU of variant want runs code built for
// the older variant v, as containerd's platform matcher has it: v8 runs
// v7, v6 and v5; v7 runs v6 and v5; v6 runs v5.
func armRuns(want, v string) bool {
	order := []string{"v5", "v6", "v7", "v8"}
	w, o := slices.Index(order, want), slices.Index(order, v)
	return w >= 0 && o >= 0 && o < w
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
