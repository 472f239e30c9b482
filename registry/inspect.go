package registry

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// Inspect describes the image ref names in its registry, for the platform
// of WithPlatform (an index resolves to the platform's manifest), as
// transport.Inspect describes a local one. Only manifests and the config are
// fetched: no layer blob, and nothing is stored. Errors are told in one
// line, as Pull tells them: "inspect localhost:5000/app:2: tag not found".
// The inspection's Reference is "docker://" and the normalised reference.
func Inspect(ctx context.Context, ref string, opts ...Option) (*image.Inspection, error) {
	o := makeOptions(opts)
	r, err := parseReference(ref, o)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	p := newPuller(r, o, nil)
	i, err := p.inspect(ctx)
	if err != nil {
		return nil, opError("inspect", r, o, err)
	}
	return i, nil
}

func (p *puller) inspect(ctx context.Context) (*image.Inspection, error) {
	var err error
	if p.remote, err = remote.NewPuller(p.o.remoteOptions(nil)...); err != nil {
		return nil, err
	}
	// resolve checks the config against the manifest, and the layer
	// descriptors.
	st, err := p.resolve(ctx, p.ref)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(st.Manifest, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", st.ManifestDigest, err)
	}
	// resolve took only an OCI or Docker schema 2 manifest; Docker's
	// always names its media type, an OCI one may leave it out.
	mt := string(mediaType(st.Manifest, ocispec.MediaTypeImageManifest))
	desc := ocispec.Descriptor{MediaType: mt, Digest: st.ManifestDigest, Size: int64(len(st.Manifest))}
	config := m.Config
	config.Size = int64(len(st.Config))
	i, err := image.NewInspection("docker://"+p.canon, desc, config, st.Config, m.Layers)
	if err != nil {
		return nil, err
	}
	i.Index = p.index
	return i, nil
}
