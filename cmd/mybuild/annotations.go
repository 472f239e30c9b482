package main

import (
	"fmt"
	"strings"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// parseAnnotations reads --annotation values, as buildx writes them:
// [TYPE[,TYPE...]:]K=V, each TYPE one of manifest, index,
// manifest-descriptor and index-descriptor, optionally qualified by a
// platform (manifest[linux/amd64]); no TYPE is manifest. mybuild writes
// one image manifest, for the build's platform: manifest annotations go
// on it, and manifest-descriptor ones on its entry in the index.json of
// an OCI layout or archive (a registry push has no index to carry them).
// What has nothing to go on is refused, in one line, rather than
// dropped: index and index-descriptor annotations, and a platform other
// than the build's.
func parseAnnotations(values []string, platform ocispec.Platform, outputs []transport.Ref) (manifest, descriptor map[string]string, err error) {
	for _, v := range values {
		key, value, ok := strings.Cut(v, "=")
		if !ok || key == "" {
			return nil, nil, usagef("--annotation %s: want [TYPE:]KEY=VALUE", v)
		}
		types := "manifest"
		if t, k, ok := strings.Cut(key, ":"); ok {
			types, key = t, k
		}
		if key == "" {
			return nil, nil, usagef("--annotation %s: missing KEY", v)
		}
		for _, typ := range strings.Split(types, ",") {
			name, err := annotationType(typ, platform)
			if err != nil {
				return nil, nil, usagef("--annotation %s: %v", v, err)
			}
			switch name {
			case "manifest":
				manifest = setAnnotation(manifest, key, value)
			case "manifest-descriptor":
				// A multi-platform build (no single platform) has an
				// index to hold them in every output.
				if err := checkDescriptorOutputs(outputs); platform.OS != "" && err != nil {
					return nil, nil, usagef("--annotation %s: %v", v, err)
				}
				descriptor = setAnnotation(descriptor, key, value)
			}
		}
	}
	return manifest, descriptor, nil
}

// annotationType reads one TYPE[PLATFORM] and tells which of mybuild's
// two it is. build is the build's platform; zero for a multi-platform
// build, whose annotations go on every platform's manifest.
func annotationType(typ string, build ocispec.Platform) (string, error) {
	name, qualifier, qualified := strings.Cut(strings.TrimSpace(typ), "[")
	if qualified {
		p, ok := strings.CutSuffix(qualifier, "]")
		if !ok {
			return "", fmt.Errorf("%q: the platform ends with ]", typ)
		}
		want, err := image.ParsePlatform(p)
		if err != nil {
			return "", err
		}
		if build.OS == "" {
			return "", fmt.Errorf("an annotation for one platform of a multi-platform build is not supported yet: drop [%s] to annotate every platform's manifest", p)
		}
		if image.FormatPlatform(want) != image.FormatPlatform(build) {
			return "", fmt.Errorf("the image is for %s, not %s", image.FormatPlatform(build), p)
		}
	}
	switch name {
	case "manifest", "manifest-descriptor":
		return name, nil
	case "index", "index-descriptor":
		return "", fmt.Errorf("mybuild writes a single image manifest, with no image index to annotate: use manifest: or manifest-descriptor:")
	}
	return "", fmt.Errorf("unknown type %q (want manifest, index, manifest-descriptor or index-descriptor)", name)
}

// checkDescriptorOutputs refuses a descriptor annotation for an output
// that has no index to hold it.
func checkDescriptorOutputs(outputs []transport.Ref) error {
	for _, o := range outputs {
		if o.Transport == transport.Docker {
			return fmt.Errorf("a push to %s has no index to hold a descriptor annotation (oci-archive:, oci: and docker-archive: have one)", o)
		}
	}
	return nil
}

func setAnnotation(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}
