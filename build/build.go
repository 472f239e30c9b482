package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/parser"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
	"github.com/mybuild/mybuild/transport"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// builder runs one build.
type builder struct {
	opts     Options
	df       *parser.Dockerfile
	bctx     *buildcontext.Context
	rep      Reporter
	platform ocispec.Platform
	args     *args
	graph    *graph
	// multiStage is set when more than one stage is built: progress and
	// errors then name the stage.
	multiStage bool

	mu      sync.Mutex
	results []orderedResult
	driver  rootfs.Driver
	// repoDropped is set once the shared cache failed: it is not asked
	// again in this build.
	repoDropped bool
	// epoch is the source date epoch; nil when the build need not be
	// reproducible.
	epoch *time.Time
	// exclusive lets one step at a time make a layer, with a driver that
	// has one root (rootfs.Features.Exclusive).
	// It is shared by the builders of a multi-platform build.
	exclusive *sync.Mutex
	// shares pairs the same COPY and WORKDIR of the platforms of a
	// multi-platform build (see shareLayer); nil in other builds.
	shares *layerShares
	// dirTime, in a multi-platform build, is the time of the directories
	// COPY, ADD and WORKDIR create, the same for every platform, so that
	// the same step makes the same layer for each; zero otherwise.
	dirTime time.Time
	// platformLabel names the target platform in progress, errors and
	// results of a multi-platform build; "" otherwise.
	platformLabel string
	// warned holds the warnings given so far (warnOnce).
	warned map[string]bool
	// lintResult is the lint's, for the "# check=" directive of the
	// rules the build checks itself; nil before the lint.
	lintResult *parser.LintResult
	// earlier are the records misses were compared with, by key, read
	// once each (see earlierRecords).
	earlier struct {
		mu     sync.Mutex
		recs   map[digest.Digest]*cache.Record
		warned bool // of a failure to read them
	}
	// mounts shares cache mounts through the shared cache; nil without.
	mounts *mountShare
	// sharedFiles are the file lists of the shared cache's latest
	// records, by digest (guarded by mu).
	sharedFiles map[digest.Digest][]cache.FileEntry
	// materials are what the build read, for its provenance; shared by
	// the builders of a multi-platform build, as are allPlatforms, the
	// platforms the build makes images for.
	materials    *materials
	allPlatforms []ocispec.Platform
	// started is when the build started, and dockerfileDigest the
	// digest of the Dockerfile's bytes: the provenance records them.
	started          time.Time
	dockerfileDigest digest.Digest
	// aheadCtx, set in a build whose image the outputs hold as it is,
	// lets the archives of its outputs be begun once a step of the target
	// stage misses (see startAheads); aheads are those begun, by output.
	aheadCtx context.Context
	aheads   map[string]*transport.Ahead
	// stored waits for the storing of the last step's record (see
	// storeLater), under mu.
	stored []func() error
}

// Build runs the Dockerfile and writes the image to every output.
//
// A build that went on with the image a base's tag named last (see
// startLoads) runs once more when the tag names another image now.
// A cache entry found corrupt while the image is written (a blob whose
// bytes no longer match its digest) has been dropped by then; the build
// then runs once more, rebuilding what it lost, so a damaged entry is
// never shipped.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.Explain {
		return explain(ctx, opts)
	}
	withoutProvenance(opts)
	res, err := build(ctx, opts)
	if errors.Is(err, errBaseMoved) && ctx.Err() == nil {
		reporter(opts).Warning(fmt.Sprintf("%v; building again on it", err))
		opts.waitBases = true
		res, err = build(ctx, opts)
	}
	if errors.Is(err, cache.ErrCorrupt) && ctx.Err() == nil {
		reporter(opts).Warning(fmt.Sprintf("%v; rebuilding without it", err))
		res, err = build(ctx, opts)
	}
	return res, err
}

// settle waits, whatever the build's outcome, for what the builders'
// drivers left running: the flushes and seals of the layers unpacked in
// the background, by the steps or by the outputs (an export unpacks the
// layers a cached build never did). Its error is a warning: the image is
// written by then, maybe pushed, and a layer whose seal failed is only
// unpacked again by the next build that wants it.
func settle(bs []*builder) {
	for _, b := range bs {
		if err := b.driver.Settle(); err != nil {
			b.rep.Warning(err.Error())
		}
		b.mu.Lock()
		stored := b.stored
		b.stored = nil
		b.mu.Unlock()
		for _, wait := range stored {
			if err := wait(); err != nil {
				b.rep.Warning(fmt.Sprintf("the last step's cache record was not stored: %v", err))
			}
		}
	}
}

// storeLater has settle wait for stored, the storing of the last step's
// record (cache.Store.MakeStepLater): its flush then overlaps the
// writing of the image, which flushes too. A record that failed to be
// stored only costs the next build that step, whose layer the image
// holds all the same: the failure is a warning.
func (b *builder) storeLater(stored func() error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stored = append(b.stored, stored)
}

func reporter(opts Options) Reporter {
	if opts.Reporter == nil {
		return discardReporter{}
	}
	return opts.Reporter
}

func build(ctx context.Context, opts Options) (res *Result, err error) {
	opts.bases = nil
	if !opts.Explain && !opts.NoLayers && !opts.waitBases {
		opts.bases = &baseLoads{}
	}
	ctx, cancel := context.WithCancel(ctx)
	// The loads asked ahead end, cancelled, before the build does.
	defer opts.bases.wait()
	defer cancel()
	defer func() {
		// A failure on the image a tag named last may not be one on the
		// image it names now.
		if err != nil && !errors.Is(err, errBaseMoved) {
			if cerr := opts.bases.confirm(ctx); errors.Is(cerr, errBaseMoved) {
				err = cerr
			}
		}
		var bf *baseFailure
		if errors.As(err, &bf) {
			err = bf.err
		}
	}()
	bs, nodes, err := planBuild(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer settle(bs)
	if h, ok := opts.Driver.(rootfs.Holder); ok {
		if err := h.Hold(ctx); err != nil {
			return nil, err
		}
	}
	if err := checkEmulators(ctx, opts, nodes); err != nil {
		return nil, err
	}
	if len(bs) > 1 {
		if err := runPlatforms(ctx, bs, nodes); err != nil {
			return nil, err
		}
		if err := opts.bases.confirm(ctx); err != nil {
			return nil, err
		}
		return writeIndex(ctx, bs)
	}
	b := bs[0]
	if opts.Provenance == ProvenanceOff && !opts.NoLayers {
		b.aheadCtx = ctx
		defer b.abortAheads()
	}
	if err := b.runAll(ctx, b.graph); err != nil {
		return nil, err
	}
	if err := opts.bases.confirm(ctx); err != nil {
		return nil, err
	}
	if opts.Provenance != ProvenanceOff {
		return writeIndex(ctx, bs) // the image and its attestation
	}
	return b.writeImage(ctx, b.graph.target.result)
}

// planBuild makes the builder of each platform, with the graph of
// stages it needs (checked by preflight), and lists the nodes to run:
// one builder for a single-platform build, whose nodes are those its
// target needs.
func planBuild(ctx context.Context, opts Options) ([]*builder, []*node, error) {
	if len(opts.Platforms) > 1 {
		return planPlatforms(ctx, opts)
	}
	if len(opts.Platforms) == 1 {
		opts.Platform = opts.Platforms[0]
	}
	b, err := newBuilder(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := b.planTarget(ctx); err != nil {
		return nil, nil, err
	}
	return []*builder{b}, b.graph.reachable(), nil
}

// planTarget plans the graph of stages the target needs, checked by
// preflight, as b's graph, and starts loading its bases from registries
// (startLoads: ctx bounds the loading).
func (b *builder) planTarget(ctx context.Context) error {
	g, err := b.plan(b.opts.Target)
	if err != nil {
		return err
	}
	b.startLoads(ctx, g)
	if err := b.preflight(g); err != nil {
		return err
	}
	b.graph = g
	return nil
}

// newBuilder reads and parses the Dockerfile, and makes the builder that
// runs it: options defaulted, the parser's and the lint rules' warnings
// reported (with "# check=error=true", the lint's fail it), the build
// args and the source date epoch resolved.
func newBuilder(ctx context.Context, opts Options) (*builder, error) {
	if opts.Store == nil {
		return nil, errors.New("build: no cache store")
	}
	if opts.Network == "" {
		opts.Network = sandbox.NetworkHost
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Pull == "" {
		opts.Pull = registry.PullMissing
	}
	data, err := os.ReadFile(opts.Dockerfile)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	df, err := parser.Parse(filepath.Base(opts.Dockerfile), bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b := &builder{opts: opts, df: df, rep: reporter(opts), platform: opts.Platform, driver: opts.Driver, exclusive: &sync.Mutex{},
		started: opts.Now(), dockerfileDigest: digest.FromBytes(data)}
	if b.platform.OS == "" {
		b.platform = image.HostPlatform()
	}
	b.allPlatforms = []ocispec.Platform{b.platform}
	if b.driver == nil {
		b.driver = rootfs.NewOverlay(opts.Store, rootfs.Warnings(b.rep.Warning))
	}
	for _, w := range df.Warnings {
		b.rep.Warning(df.ErrorAtLine(w.Line, errors.New(w.Message)).Error())
	}
	if err := b.lint(ctx, data); err != nil {
		return nil, err
	}
	if b.args, err = newArgs(df, opts.BuildArgs, image.HostPlatform(), b.platform, opts.Target); err != nil {
		return nil, err
	}
	if b.epoch, err = sourceDateEpoch(opts.SourceDateEpoch, b.args); err != nil {
		return nil, err
	}
	b.materials = newMaterials(b.epoch != nil)
	b.mounts = b.newMountShare()
	return b, nil
}

// runAll opens the build context, with the stat cache of earlier builds,
// and runs every node of g; then it keeps the stat cache for the next
// build, warns of build args that no ARG used, and sends the cache
// mounts the steps used to the shared cache.
func (b *builder) runAll(ctx context.Context, g *graph) error {
	saveStats, err := b.openContext()
	if err != nil {
		return err
	}
	err = b.runGraph(ctx, g)
	if serr := saveStats(); err == nil && serr != nil {
		b.rep.Warning(fmt.Sprintf("save stat cache: %v", serr))
	}
	if err != nil {
		return err
	}
	if unused := b.args.unused(); len(unused) > 0 {
		b.rep.Warning(fmt.Sprintf("build arguments not consumed by any ARG: %s", strings.Join(unused, ", ")))
	}
	b.exportMounts(ctx)
	return nil
}

// openContext opens the build context, with the stat cache of earlier
// builds; saveStats keeps the stat cache for the next build.
func (b *builder) openContext() (saveStats func() error, err error) {
	stats, save, err := b.statCache(b.opts.Context)
	if err != nil {
		return nil, err
	}
	if b.bctx, err = buildcontext.Open(b.opts.Context, b.opts.Dockerfile, buildcontext.WithStatCache(stats)); err != nil {
		return nil, err
	}
	return save, nil
}

// writeImage makes the image of the target stage st, in the compression
// asked for, writes it to every output, and describes the build: the
// steps' layers are those of the image.
func (b *builder) writeImage(ctx context.Context, st *stage) (*Result, error) {
	img, m, steps, err := b.finalImage(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := b.export(ctx, st); err != nil {
		return nil, err
	}
	for _, out := range b.opts.Outputs {
		if _, err := transport.Save(b.writing(ctx, out, img, m), out, img, b.opts.Store, transport.WithRegistry(b.opts.Registry...),
			transport.WithAhead(b.ahead(out))); err != nil {
			return nil, err
		}
	}
	return &Result{ImageDigest: m.Descriptor.Digest, ConfigDigest: m.Config.Digest, Steps: steps}, nil
}

// finalImage is the image of the target stage st, in the compression
// asked for, its manifest, and the results of the steps this builder
// ran: their layers are those of the image.
func (b *builder) finalImage(ctx context.Context, st *stage) (*image.Image, *image.Manifest, []StepResult, error) {
	layers, converted, err := b.outputLayers(ctx, st)
	if err != nil {
		return nil, nil, nil, err
	}
	own := b.opts.PlatformAnnotations[image.FormatPlatform(b.platform)]
	img := &image.Image{Config: b.imageConfig(st), Layers: layers,
		Annotations:           mergeAnnotations(b.opts.Annotations, own.Manifest),
		DescriptorAnnotations: mergeAnnotations(b.opts.DescriptorAnnotations, own.Descriptor)}
	m, err := img.Manifest()
	if err != nil {
		return nil, nil, nil, err
	}
	steps := b.stepResults()
	for i, s := range steps {
		if s.Layer == nil {
			continue
		}
		if c, ok := converted[s.Layer.Digest]; ok {
			steps[i].Layer = &c
		}
	}
	return img, m, steps, nil
}

// statCache loads the stat cache of the context dir from the store; save
// writes back what this build used.
func (b *builder) statCache(dir string) (*buildcontext.StatCache, func() error, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256([]byte(abs))
	name := "statcache-" + hex.EncodeToString(sum[:8])
	data, _ := os.ReadFile(b.opts.Store.StatePath(name))
	sc := buildcontext.NewStatCache(data)
	save := func() error {
		if !sc.Changed() {
			return nil
		}
		out, err := sc.Marshal()
		if err != nil {
			return err
		}
		return b.opts.Store.WriteState(name, out)
	}
	return sc, save, nil
}
