package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// maxConfig bounds the config blobs read into memory.
const maxConfig = 8 << 20

// resolve fetches the manifest target names, down to the platform's
// manifest when it is an index, and the image config.
func (p *puller) resolve(ctx context.Context, target name.Reference) (*refState, error) {
	desc, err := p.remote.Get(ctx, target)
	if err != nil {
		return nil, err
	}
	top := digest.Digest(desc.Digest.String())
	raw, mt := desc.Manifest, mediaType(desc.Manifest, desc.MediaType)
	fromIndex := false
	for depth := 1; mt.IsIndex(); depth++ {
		if depth > image.MaxIndexDepth {
			return nil, fail(nil, "image indexes nested too deeply")
		}
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		if !fromIndex {
			p.index = image.NewIndexInfo(ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(desc.Digest.String())}, &idx)
		}
		child, err := selectPlatform(&idx, p.o.platform)
		if err != nil {
			return nil, err
		}
		if err := child.Digest.Validate(); err != nil {
			return nil, fail(nil, "index %s: manifest %q: %v", desc.Digest, child.Digest, err)
		}
		if desc, err = p.remote.Get(ctx, p.ref.Context().Digest(child.Digest.String())); err != nil {
			return nil, err
		}
		raw, mt = desc.Manifest, mediaType(desc.Manifest, desc.MediaType)
		fromIndex = true
	}
	switch {
	case mt.IsSchema1():
		return nil, fail(nil, "Docker schema 1 manifests are not supported (push the image again with a current client)")
	case mt != types.OCIManifestSchema1 && mt != types.DockerManifestSchema2:
		return nil, fail(nil, "unsupported manifest media type %q", mt)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	cfg, err := p.blobs().read(ctx, "image config", digest.Digest(m.Config.Digest.String()), -1, maxConfig)
	if err != nil {
		return nil, err
	}
	st := &refState{
		Ref: p.canon, Platform: p.platform, Digest: top,
		ManifestDigest: digest.FromBytes(raw), Manifest: raw, Config: cfg,
		Resolved: time.Now().UTC(),
	}
	img, err := st.image()
	if err != nil {
		return nil, err
	}
	if !fromIndex && !p.o.anyLone {
		c := img.Config.Platform
		if c.OS != "" && c.Architecture != "" && !image.SameOSArch(c, p.o.platform) {
			return nil, fail(ErrNoPlatform, "no image for platform %s (the image is %s/%s)", p.platform, c.OS, c.Architecture)
		}
	}
	return st, nil
}

// mediaType is the manifest's own mediaType field, or else the one the
// registry sent.
func mediaType(raw []byte, header types.MediaType) types.MediaType {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if json.Unmarshal(raw, &m) == nil && m.MediaType != "" {
		return m.MediaType
	}
	return header
}

// image is the image of st, built once: the layers of its manifest
// paired with the diffIDs of its config, after checking the config
// against the manifest.
func (st *refState) image() (*image.Image, error) {
	if st.img != nil {
		return st.img, nil
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(st.Manifest, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", st.ManifestDigest, err)
	}
	if got := digest.FromBytes(st.Config); got != m.Config.Digest {
		return nil, fail(nil, "image config has digest %s, the manifest says %s", got, m.Config.Digest)
	}
	img, err := image.NewImage(st.Config, m.Layers)
	if err != nil {
		return nil, fail(nil, "%v", err)
	}
	st.img = img
	return img, nil
}
