package build

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/rootfs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/sandbox"
	"github.com/mybuild/mybuild/transport"
	digest "github.com/opencontainers/go-digest"
)

// The cache is where images are read from and written to.
var _ image.Store = (*cache.Store)(nil)

// Annotations are those of an image manifest, and of its descriptor in
// the index that lists it.
type Annotations struct {
	Manifest, Descriptor map[string]string
}

// Options says what to build and where the result goes.
type Options struct {
	// Dockerfile is the path of the Dockerfile.
	Dockerfile string
	// Context is the build context directory.
	Context string
	// Outputs are where the image is written. None: build only.
	Outputs []transport.Ref
	// Exports are where the target stage's root filesystem is written,
	// as a directory or a tar (buildx's --output type=local and tar).
	Exports []Export
	// Labels are added to the image config, after the Dockerfile's own,
	// as buildx's --label does: no step and no history entry.
	Labels map[string]string
	// Annotations go on the image manifest (--annotation manifest:K=V);
	// DescriptorAnnotations on the manifest's descriptor in an OCI
	// layout's index (manifest-descriptor:K=V). See image.Image.
	Annotations, DescriptorAnnotations map[string]string
	// PlatformAnnotations add to those, in a multi-platform build, for the
	// platform they are keyed by (image.FormatPlatform): buildx's
	// manifest[linux/arm64]:K=V.
	PlatformAnnotations map[string]Annotations
	// IndexAnnotations go on the image index a multi-platform build, or
	// one with a provenance, writes (index:K=V), and on its entry in an
	// OCI layout's index.json (index-descriptor:K=V).
	IndexAnnotations image.IndexAnnotations
	// Contexts are the named build contexts (--build-context), by name:
	// FROM NAME, COPY --from=NAME and RUN --mount=from=NAME take them
	// before an image of that name, and a stage named NAME is replaced by
	// its context, as in BuildKit.
	Contexts map[string]NamedContext
	// Store is the open cache.
	Store *cache.Store
	// Driver gives steps their root filesystem; nil means
	// rootfs.NewOverlay(Store).
	Driver rootfs.Driver
	// bases are the base images loaded ahead (see startLoads); nil when
	// the build waits for each at its FROM, as it does with waitBases.
	bases     *baseLoads
	waitBases bool
	// NoLayers makes the build fail with ErrLayerNeeded, before anything
	// of the step is written, when a step must make a layer that the
	// cache lacks: a normal user's build tries so first, outside the user
	// namespace of the rootless mode, which only making a layer needs.
	NoLayers bool
	// ContextOwners is how the owners of context files are keyed: as the
	// steps will see them. nil keys them as they are. A normal user's try
	// outside the user namespace keys them as the namespace shows them,
	// so that its keys are the namespace's.
	ContextOwners func(uid, gid uint32) (uint32, uint32)
	// Explain builds nothing: every step is keyed and looked up in the
	// cache, and each miss is explained (StepResult.Miss), but no step
	// runs, no record, layer or image is written, and a shared cache
	// gives records only. A step that would miss applies its change to
	// the config, so that the keys after it are the build's.
	Explain bool
	// Network is the default network of RUN steps.
	Network sandbox.Network
	// NoCache runs every step; results are still stored.
	NoCache bool
	// Allow grants the build privileges its steps may ask for:
	// EntitlementSecurityInsecure lets RUN --security=insecure run.
	Allow []Entitlement
	// BuildArgs are the --build-arg values.
	BuildArgs map[string]string
	// Target is the stage to build; "" means the last one.
	Target string
	// Secrets are the --secret values by id, for RUN --mount=type=secret.
	// They reach no key, record, layer or log.
	Secrets map[string][]byte
	// SSHAuthSock is the ssh agent socket RUN --mount=type=ssh forwards.
	SSHAuthSock string
	// Platform is the platform to build for; zero means the host's. RUN
	// steps for another one need binfmt emulation on the host.
	Platform ocispec.Platform
	// Platforms, when it has more than one, builds the image of each in
	// one run (--platform linux/amd64,linux/arm64): the outputs get an
	// index with one manifest per platform. One platform here is the same
	// as Platform.
	Platforms []ocispec.Platform
	// Pull says when FROM asks a registry; "" means registry.PullMissing.
	Pull registry.PullPolicy
	// Registry holds options for pulls and pushes (insecure hosts,
	// credentials, progress).
	Registry []registry.Option
	// CacheRepo, when set, shares step results with other machines: a
	// step that misses locally is looked up there, and a step that ran is
	// pushed there.
	CacheRepo *registry.CacheRepo
	// NoCacheMountExport keeps the RUN --mount=type=cache directories
	// this build used from being sent to CacheRepo once it is done; they
	// are still brought from it before their first use. See
	// package mountsync.
	NoCacheMountExport bool
	// Compression is how the layers the build makes are compressed, with
	// its level; the zero value is gzip at its default level. Layers found
	// in the cache in another compression or level are converted (once;
	// the converted blob is cached too). Base image layers are never
	// rewritten.
	Compression layer.Compression
	// SourceDateEpoch, when set, makes the build reproducible: file times
	// in new layers are clamped to it, and the config's creation time and
	// the times of the history entries the build adds are set to it. The
	// build arg SOURCE_DATE_EPOCH (seconds since 1970) sets it too.
	SourceDateEpoch *time.Time
	// Provenance, unless off, attaches an SLSA v1 provenance statement
	// to the image, as an attestation manifest in its index (see package
	// provenance): a single-platform image is then written as an index
	// of the image and its attestation. A docker-archive output holds
	// the image alone, and Exports none.
	Provenance ProvenanceMode
	// ProvenanceBuilderID, when set, is the provenance's
	// runDetails.builder.id (BuildKit's builder-id attribute: a CI run's
	// URL); mybuild's own URI otherwise.
	ProvenanceBuilderID string
	// BuilderVersion is mybuild's version, which the provenance records.
	BuilderVersion string
	// Reporter receives progress; nil discards it.
	Reporter Reporter
	// Now gives the time of new steps; nil means time.Now.
	Now func() time.Time
}

// Result describes a finished build.
type Result struct {
	// ImageDigest is the digest of the image manifest; of the index, in
	// a multi-platform build.
	ImageDigest digest.Digest
	// ConfigDigest is the digest of the image config; "" in a
	// multi-platform build.
	ConfigDigest digest.Digest
	// IndexDigest is the digest of the index of a multi-platform build,
	// or of a build with provenance, and Manifests its images, in the
	// order of Options.Platforms; both are empty in a single-platform
	// build without provenance.
	IndexDigest digest.Digest
	Manifests   []PlatformManifest
	// Provenance is the predicate of each image's provenance statement,
	// by platform (os/arch[/variant]); nil without Options.Provenance.
	Provenance map[string]json.RawMessage
	Steps      []StepResult
}

// PlatformManifest is the image of one platform of a multi-platform
// build.
type PlatformManifest struct {
	Platform     string // os/arch[/variant]
	Digest       digest.Digest
	ConfigDigest digest.Digest
}

// StepResult is what one step did, as the metadata file reports it.
type StepResult struct {
	// Stage is, when several stages are built, the stage's name, "stage-N"
	// for an unnamed one, or the image reference for an image a --from
	// names; "" for a single-stage build.
	Stage string
	// Platform is, in a multi-platform build, the platform the step was
	// built for (os/arch[/variant]); a stage shared by every platform
	// (FROM --platform=$BUILDPLATFORM, reading no target arg) runs once,
	// and names its own platform. "" in a single-platform build.
	Platform    string
	Index       int
	Total       int
	Instruction string
	Line        int
	Key         digest.Digest
	Cached      bool
	// CacheSource says where a cached result came from: "local", or
	// "registry" for the shared cache (CacheRepo); "" when the step ran.
	CacheSource string
	// Layer is nil for a step that adds no layer.
	Layer *layer.Layer
	// LayerFrom is, in a multi-platform build, the platform whose same
	// step made this step's layer, which this one took as it is: the
	// layers below were the same, or differed nowhere the step looked.
	// "" when the step made its own layer, or none.
	LayerFrom string
	Duration  time.Duration
	// Miss says why a step that ran (or, with Options.Explain, would run)
	// missed the cache; nil for a cached step.
	Miss *Miss
}

// StepInfo names a step while it runs.
type StepInfo struct {
	// Stage is as in StepResult. Steps of different stages may run at the
	// same time.
	Stage string
	// Platform is as in StepResult.
	Platform     string
	Index, Total int
	Line         int
	// Instruction is the Dockerfile text of the step.
	Instruction string
}

// Label is "[3/5]", or "[build 3/5]" when several stages are built, as
// progress and errors name a step; a multi-platform build puts the
// platform first: "[linux/arm64 3/5]", "[linux/arm64 build 3/5]".
func (i StepInfo) Label() string {
	name := i.Stage
	if i.Platform != "" {
		name = strings.TrimSpace(i.Platform + " " + i.Stage)
	}
	if name == "" {
		return fmt.Sprintf("[%d/%d]", i.Index, i.Total)
	}
	return fmt.Sprintf("[%s %d/%d]", name, i.Index, i.Total)
}

// Reporter receives progress events. Independent stages run at the same
// time, so a Reporter must be safe for concurrent use.
type Reporter interface {
	StepStarted(info StepInfo)
	// StepOutput is where a running step's stdout and stderr go.
	StepOutput(info StepInfo) io.Writer
	StepFinished(info StepInfo, res StepResult, err error)
	Warning(msg string)
}

type discardReporter struct{}

func (discardReporter) StepStarted(StepInfo)                     {}
func (discardReporter) StepOutput(StepInfo) io.Writer            { return io.Discard }
func (discardReporter) StepFinished(StepInfo, StepResult, error) {}
func (discardReporter) Warning(string)                           {}
