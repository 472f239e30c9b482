package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// annotationTarget is what the build writes, for --annotation to check
// against: its platform (zero for a multi-platform build, whose
// platforms are platforms), whether it writes an image index (several
// platforms, or a provenance), and its outputs.
type annotationTarget struct {
	platform  ocispec.Platform
	platforms []ocispec.Platform
	index     bool
	outputs   []transport.Ref
}

// parseAnnotations reads --annotation values, as buildx writes them:
// [TYPE[,TYPE...]:]K=V, each TYPE one of manifest, index,
// manifest-descriptor and index-descriptor, optionally qualified by a
// platform (manifest[linux/amd64]); no TYPE is manifest. Manifest
// annotations go on the image manifest (of each platform, or of the one
// named), manifest-descriptor ones on its entry in the index that lists
// it: the image index, or the index.json of an OCI layout or archive.
// Index annotations go on the image index, index-descriptor ones on its
// entry in an OCI layout's index.json. What has nothing to go on is
// refused, in one line, rather than dropped.
func parseAnnotations(values []string, t annotationTarget, opts *build.Options) error {
	for _, v := range values {
		key, value, ok := strings.Cut(v, "=")
		if !ok || key == "" {
			return usagef("--annotation %s: want [TYPE:]KEY=VALUE", v)
		}
		types := "manifest"
		if ty, k, ok := strings.Cut(key, ":"); ok {
			types, key = ty, k
		}
		if key == "" {
			return usagef("--annotation %s: missing KEY", v)
		}
		for _, typ := range strings.Split(types, ",") {
			if err := t.add(opts, typ, key, value); err != nil {
				return usagef("--annotation %s: %v", v, err)
			}
		}
	}
	return nil
}

// add puts one annotation of TYPE[PLATFORM] typ where it goes in opts.
func (t annotationTarget) add(opts *build.Options, typ, key, value string) error {
	name, platform, err := t.annotationType(typ)
	if err != nil {
		return err
	}
	if err := t.checkOutputs(name); err != nil {
		return err
	}
	switch {
	case name == "index":
		opts.IndexAnnotations.Index = setAnnotation(opts.IndexAnnotations.Index, key, value)
	case name == "index-descriptor":
		opts.IndexAnnotations.Descriptor = setAnnotation(opts.IndexAnnotations.Descriptor, key, value)
	case platform != "":
		if opts.PlatformAnnotations == nil {
			opts.PlatformAnnotations = map[string]build.Annotations{}
		}
		a := opts.PlatformAnnotations[platform]
		if name == "manifest" {
			a.Manifest = setAnnotation(a.Manifest, key, value)
		} else {
			a.Descriptor = setAnnotation(a.Descriptor, key, value)
		}
		opts.PlatformAnnotations[platform] = a
	case name == "manifest":
		opts.Annotations = setAnnotation(opts.Annotations, key, value)
	default:
		opts.DescriptorAnnotations = setAnnotation(opts.DescriptorAnnotations, key, value)
	}
	return nil
}

// annotationType reads one TYPE[PLATFORM]: the type, and the platform a
// multi-platform build's annotation is for ("" for all, and for a
// single-platform build, whose one platform it must name).
func (t annotationTarget) annotationType(typ string) (name, platform string, err error) {
	name, qualifier, qualified := strings.Cut(strings.TrimSpace(typ), "[")
	switch name {
	case "manifest", "manifest-descriptor":
	case "index", "index-descriptor":
		if !t.index {
			return "", "", fmt.Errorf("this build writes a single image manifest, with no image index to annotate (an index comes with several platforms or a provenance): use manifest: or manifest-descriptor:")
		}
		if qualified {
			return "", "", fmt.Errorf("%q: an index is for every platform, not one", typ)
		}
	default:
		return "", "", fmt.Errorf("unknown type %q (want manifest, index, manifest-descriptor or index-descriptor)", name)
	}
	if !qualified {
		return name, "", nil
	}
	p, ok := strings.CutSuffix(qualifier, "]")
	if !ok {
		return "", "", fmt.Errorf("%q: the platform ends with ]", typ)
	}
	want, err := image.ParsePlatform(p)
	if err != nil {
		return "", "", err
	}
	if t.platform.OS == "" {
		names := make([]string, len(t.platforms))
		for i, bp := range t.platforms {
			names[i] = image.FormatPlatform(bp)
		}
		if !slices.Contains(names, image.FormatPlatform(want)) {
			return "", "", fmt.Errorf("the build is for %s, not %s", strings.Join(names, ", "), p)
		}
		return name, image.FormatPlatform(want), nil
	}
	if image.FormatPlatform(want) != image.FormatPlatform(t.platform) {
		return "", "", fmt.Errorf("the image is for %s, not %s", image.FormatPlatform(t.platform), p)
	}
	return name, "", nil
}

// checkOutputs refuses an annotation of type name for an output that has
// nothing to hold it.
func (t annotationTarget) checkOutputs(name string) error {
	for _, o := range t.outputs {
		switch {
		case o.Transport == transport.Docker && name == "index-descriptor":
			return fmt.Errorf("a push to %s has no index.json to hold an index descriptor annotation (oci-archive: and oci: have one)", o)
		case o.Transport == transport.Docker && name == "manifest-descriptor" && !t.index:
			return fmt.Errorf("a push to %s has no index to hold a descriptor annotation (oci-archive:, oci: and docker-archive: have one)", o)
		case o.Transport == transport.DockerArchive && (name == "index" || name == "index-descriptor"):
			return fmt.Errorf("%s holds one image and no index to annotate", o)
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
