package registry

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// IndexSource is an image or an index to put in an index: a registry
// reference (Ref), or one named Name (or the only one) in an OCI layout,
// in directory Layout or read elsewhere (an archive) as Index, the index
// its index.json is.
type IndexSource struct {
	Ref          string
	Layout, Name string
	Index        v1.ImageIndex
	// Label names the source in errors.
	Label string
}

// CreateIndex puts under dest an index of every image the sources hold:
// an image as it is, an index's images each with its descriptor. Each
// image keeps its manifest, and so its digest, byte for byte. The index
// is a Docker manifest list when every image is a Docker schema 2
// manifest, else an OCI index. Two images for one platform are refused.
//
// The images' manifests and blobs go to dest's repository first, as
// ggcr's writer pushes an index's children: what the repository has
// (the images of the sources in that repository) is not uploaded again,
// so that within one repository only the index is; a layer in another
// repository of the same registry is mounted from there, and uploaded
// where the registry refuses the mount; the rest is copied.
func CreateIndex(ctx context.Context, dest string, srcs []IndexSource, opts ...Option) (digest.Digest, error) {
	o := makeOptions(opts)
	ref, err := parseReference(dest, o)
	if err != nil {
		return "", fmt.Errorf("index create %s: %w", dest, err)
	}
	idx, err := CollectIndex(ctx, srcs, opts...)
	if err != nil {
		return "", err
	}
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("index create %s: %w", Canonical(ref), err)
	}
	if err := remote.WriteIndex(ref, idx, append(o.remoteOptions(nil), remote.WithContext(ctx))...); err != nil {
		return "", opError("index create", ref, o, err)
	}
	return digest.Digest(d.String()), nil
}

// CollectIndex reads the sources and makes their index, as CreateIndex
// writes it, for a caller that writes it elsewhere: its images are read
// from the sources when written.
func CollectIndex(ctx context.Context, srcs []IndexSource, opts ...Option) (v1.ImageIndex, error) {
	o := makeOptions(opts)
	ropts := append(o.remoteOptions(nil), remote.WithContext(ctx))
	var adds []mutate.IndexAddendum
	docker := true
	seen := map[string]string{}
	for _, src := range srcs {
		found, err := indexSource(src, o, ropts)
		if err != nil {
			return nil, fmt.Errorf("index create: %s: %w", src.Label, err)
		}
		for _, add := range found {
			if p := add.Descriptor.Platform; p != nil && !image.IsAttestation(ociDescriptor(add.Descriptor)) {
				name := p.String()
				if other, dup := seen[name]; dup {
					return nil, fmt.Errorf("index create: %s and %s both have an image for %s", other, src.Label, name)
				}
				seen[name] = src.Label
			}
			docker = docker && add.Descriptor.MediaType == types.DockerManifestSchema2
			adds = append(adds, add)
		}
	}
	base := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	if docker {
		base = mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	}
	return mutate.AppendManifests(base, adds...), nil
}

// indexSource reads what one source adds to the index: its image, with
// the platform of its config, or the manifests of its index, each with
// its descriptor (platform, annotations).
func indexSource(src IndexSource, o *options, ropts []remote.Option) ([]mutate.IndexAddendum, error) {
	if src.Layout != "" || src.Index != nil {
		return layoutSource(src)
	}
	r, err := parseReference(src.Ref, o)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, describe(err, r.Context(), o)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		return indexChildren(idx)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	return imageAddendum(img)
}

// layoutSource reads the image or index named src.Name in an OCI layout,
// or the only one.
func layoutSource(src IndexSource) ([]mutate.IndexAddendum, error) {
	top := src.Index
	if top == nil {
		var err error
		if top, err = layout.ImageIndexFromPath(src.Layout); err != nil {
			return nil, err
		}
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, err
	}
	var picked []v1.Descriptor
	for _, d := range im.Manifests {
		if src.Name == "" || d.Annotations[ocispec.AnnotationRefName] == src.Name {
			picked = append(picked, d)
		}
	}
	if len(picked) != 1 {
		return nil, fmt.Errorf("the layout holds %d images named %q, want one", len(picked), src.Name)
	}
	if picked[0].MediaType.IsIndex() {
		idx, err := top.ImageIndex(picked[0].Digest)
		if err != nil {
			return nil, err
		}
		return indexChildren(idx)
	}
	img, err := top.Image(picked[0].Digest)
	if err != nil {
		return nil, err
	}
	return imageAddendum(img)
}

// indexChildren are the manifests of an index, as they are.
func indexChildren(idx v1.ImageIndex) ([]mutate.IndexAddendum, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []mutate.IndexAddendum
	for _, d := range im.Manifests {
		var add mutate.Appendable
		switch {
		case d.MediaType.IsImage():
			add, err = idx.Image(d.Digest)
		case d.MediaType.IsIndex():
			add, err = idx.ImageIndex(d.Digest)
		default:
			return nil, fmt.Errorf("manifest %s: unsupported media type %q", d.Digest, d.MediaType)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, mutate.IndexAddendum{Add: add, Descriptor: d})
	}
	return out, nil
}

// imageAddendum is a lone image, with the platform its config names.
func imageAddendum(img v1.Image) ([]mutate.IndexAddendum, error) {
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	if !mt.IsImage() || mt.IsSchema1() {
		return nil, fmt.Errorf("unsupported manifest media type %q", mt)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if cf.OS == "" || cf.Architecture == "" {
		return nil, fmt.Errorf("the image config names no platform")
	}
	p := &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion}
	return []mutate.IndexAddendum{{Add: img, Descriptor: v1.Descriptor{MediaType: mt, Platform: p}}}, nil
}

// ociDescriptor is what image.IsAttestation needs of a ggcr descriptor.
func ociDescriptor(d v1.Descriptor) ocispec.Descriptor {
	out := ocispec.Descriptor{Annotations: d.Annotations}
	if d.Platform != nil {
		out.Platform = &ocispec.Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture}
	}
	return out
}
