package build

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/provenance"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ProvenanceMode says whether a build attaches an SLSA provenance
// attestation to its image, and how much it lists (--provenance).
type ProvenanceMode string

const (
	// ProvenanceOff, the default, attaches none.
	ProvenanceOff ProvenanceMode = ""
	// ProvenanceMin lists the base images, the context as one digest,
	// what ADD fetched, the Dockerfile and the consumed build args.
	ProvenanceMin ProvenanceMode = "min"
	// ProvenanceMax lists every context file COPY and ADD read too.
	ProvenanceMax ProvenanceMode = "max"
)

// withoutProvenance warns, once, of the outputs a provenance cannot go
// to: a docker-archive has no index, and the root filesystem outputs no
// manifest.
func withoutProvenance(opts Options) {
	if opts.Provenance == ProvenanceOff {
		return
	}
	var outs []string
	for _, o := range opts.Outputs {
		if o.Transport == transport.DockerArchive {
			outs = append(outs, o.String())
		}
	}
	for _, e := range opts.Exports {
		outs = append(outs, e.String())
	}
	if len(outs) > 0 {
		reporter(opts).Warning(fmt.Sprintf("--provenance: no attestation in %s: only an image index holds one", strings.Join(outs, ", ")))
	}
}

// attestation makes the provenance of the image whose manifest is m, the
// platform's image of this builder, and stores its statement blob.
func (b *builder) attestation(m *image.Manifest, platform ocispec.Platform) (*provenance.Attestation, error) {
	stmt := b.statement(m, platform)
	att, err := provenance.NewAttestation(stmt, m.Descriptor.Digest)
	if err != nil {
		return nil, err
	}
	if err := att.Store(b.opts.Store); err != nil {
		return nil, err
	}
	return att, nil
}

// statement is the SLSA v1 provenance of the image whose manifest is m.
func (b *builder) statement(m *image.Manifest, platform ocispec.Platform) *provenance.Statement {
	var platforms []string
	for _, p := range b.allPlatforms {
		platforms = append(platforms, image.FormatPlatform(p))
	}
	return &provenance.Statement{
		Type:          provenance.StatementType,
		Subject:       b.subjects(m, platform),
		PredicateType: provenance.PredicateType,
		Predicate: provenance.Predicate{
			BuildDefinition: provenance.BuildDefinition{
				BuildType: provenance.BuildType,
				ExternalParameters: provenance.ExternalParameters{
					Dockerfile: provenance.ResourceDescriptor{Name: b.dockerfileName(), Digest: digestSet(b.dockerfileDigest)},
					Target:     b.opts.Target,
					Platforms:  platforms,
					Args:       b.args.consumed(),
				},
				ResolvedDependencies: b.materials.dependencies(b.opts.Provenance == ProvenanceMax),
			},
			RunDetails: provenance.RunDetails{
				Builder:  provenance.Builder{ID: b.builderID(), Version: b.builderVersion()},
				Metadata: b.runMetadata(),
			},
		},
	}
}

// subjects names the image as BuildKit does: a package URL per registry
// output, with the platform; "_" when none names it.
func (b *builder) subjects(m *image.Manifest, p ocispec.Platform) []provenance.Subject {
	var out []provenance.Subject
	for _, o := range b.opts.Outputs {
		if o.Transport != transport.Docker {
			continue
		}
		r, err := registry.ParseReference(o.Path, b.opts.Registry...)
		if err != nil {
			continue // checked before the build: cannot happen
		}
		out = append(out, provenance.Subject{Name: provenance.ImagePURL(registry.Canonical(r), p), Digest: digestSet(m.Descriptor.Digest)})
	}
	if len(out) == 0 {
		out = append(out, provenance.Subject{Name: "_", Digest: digestSet(m.Descriptor.Digest)})
	}
	return out
}

// dockerfileName is the Dockerfile's path in the context, or its base
// name when it is elsewhere: never a path of the host.
func (b *builder) dockerfileName() string {
	rel, err := filepath.Rel(absPath(b.opts.Context), absPath(b.opts.Dockerfile))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return filepath.Base(b.opts.Dockerfile)
	}
	return filepath.ToSlash(rel)
}

// builderID is the builder's id in the statement: --provenance
// builder-id=, else mybuild's own.
func (b *builder) builderID() string {
	if b.opts.ProvenanceBuilderID != "" {
		return b.opts.ProvenanceBuilderID
	}
	return provenance.BuilderID
}

func (b *builder) builderVersion() map[string]string {
	if b.opts.BuilderVersion == "" {
		return nil
	}
	return map[string]string{"mybuild": b.opts.BuilderVersion}
}

// runMetadata is the invocation and its times; in a reproducible build,
// no invocation id and the source date epoch as both times.
func (b *builder) runMetadata() *provenance.Metadata {
	if b.epoch != nil {
		t := b.epoch.UTC()
		return &provenance.Metadata{StartedOn: &t, FinishedOn: &t}
	}
	start, end := b.started.UTC().Truncate(time.Second), b.opts.Now().UTC().Truncate(time.Second)
	return &provenance.Metadata{InvocationID: b.materials.invocation, StartedOn: &start, FinishedOn: &end}
}

// predicate is the statement's predicate as JSON, for the metadata file.
func predicate(att *provenance.Attestation) (json.RawMessage, error) {
	var s struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(att.Statement, &s); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	return s.Predicate, nil
}
