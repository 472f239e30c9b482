package build

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/transport"
)

// planPlatforms plans the build of every platform of opts.Platforms in
// one run; runPlatforms runs it and writeIndex writes the index of their
// images to every output.
//
// Each platform has a builder of its own, which plans its own graph of
// stages. A stage that builds the same for every platform (FROM
// --platform=$BUILDPLATFORM, reading no target arg: see shareNodes) is
// one node, run once, by the first platform's builder; the others read
// its result. The nodes of every platform then run together, as the
// stages of one build do. The build context is opened and hashed once.
func planPlatforms(ctx context.Context, opts Options) ([]*builder, []*node, error) {
	bs, err := newPlatformBuilders(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	for _, b := range bs {
		if err := b.planTarget(ctx); err != nil {
			return nil, nil, err
		}
	}
	return bs, shareNodes(bs), nil
}

// newPlatformBuilders makes one builder per platform. They share the
// reporter (which gives each warning once), the driver and its lock.
func newPlatformBuilders(ctx context.Context, opts Options) ([]*builder, error) {
	names := make([]string, len(opts.Platforms))
	for i, p := range opts.Platforms {
		names[i] = image.FormatPlatform(p)
		if slices.Contains(names[:i], names[i]) {
			return nil, fmt.Errorf("--platform: %s is named twice", names[i])
		}
	}
	for _, e := range opts.Exports {
		if e.Kind != ExportDir {
			return nil, fmt.Errorf("--output %s: a multi-platform build writes its root filesystems to a directory (type=local) only: build one --platform for a tar", e)
		}
	}
	for _, out := range opts.Outputs {
		if err := transport.CheckIndex(out, names); err != nil {
			return nil, err
		}
	}
	opts.Reporter = &onceReporter{Reporter: reporter(opts), seen: map[string]bool{}}
	if opts.Driver == nil {
		opts.Driver = rootfs.NewOverlay(opts.Store)
	}
	exclusive, dirTime := &sync.Mutex{}, time.Now().Truncate(time.Second)
	shares := newLayerShares()
	bs := make([]*builder, len(opts.Platforms))
	for i, p := range opts.Platforms {
		o := opts
		o.Platform, o.Platforms = p, nil
		// Each platform's files go to a directory of its own, as
		// BuildKit's local exporter writes them: DEST/linux_arm64.
		o.Exports = make([]Export, len(opts.Exports))
		for j, e := range opts.Exports {
			e.Dest = filepath.Join(e.Dest, strings.ReplaceAll(names[i], "/", "_"))
			o.Exports[j] = e
		}
		b, err := newBuilder(ctx, o)
		if err != nil {
			return nil, err
		}
		b.exclusive, b.shares, b.platformLabel, b.dirTime = exclusive, shares, names[i], dirTime
		b.allPlatforms = opts.Platforms
		if i > 0 {
			b.materials = bs[0].materials
		}
		bs[i] = b
	}
	return bs, nil
}

// runPlatforms opens the build context once for every builder, runs
// nodes, and warns of build args that no platform's ARG used.
func runPlatforms(ctx context.Context, bs []*builder, nodes []*node) error {
	first := bs[0]
	saveStats, err := first.openContext()
	if err != nil {
		return err
	}
	for _, b := range bs[1:] {
		b.bctx = first.bctx
	}
	err = runNodes(ctx, nodes, first.driver.Features().Exclusive, false)
	if serr := saveStats(); err == nil && serr != nil {
		first.rep.Warning(fmt.Sprintf("save stat cache: %v", serr))
	}
	if err != nil {
		return err
	}
	unused := first.args.unused()
	for _, b := range bs[1:] {
		unused = slices.DeleteFunc(unused, func(k string) bool { return !slices.Contains(b.args.unused(), k) })
	}
	if len(unused) > 0 {
		first.rep.Warning(fmt.Sprintf("build arguments not consumed by any ARG: %s", strings.Join(unused, ", ")))
	}
	return nil
}

// writeIndex makes each platform's image, writes them and their index
// (with an attestation manifest per image, with provenance) to every
// output, and describes the build: the steps of each platform in turn, a
// shared stage's once. A single-platform build with provenance comes
// here too; a docker-archive output of it gets the image alone.
func writeIndex(ctx context.Context, bs []*builder) (*Result, error) {
	res := &Result{}
	imgs := make([]*image.Image, len(bs))
	for i, b := range bs {
		img, _, steps, err := b.finalImage(ctx, b.graph.target.result)
		if err != nil {
			return nil, err
		}
		if err := b.export(ctx, b.graph.target.result); err != nil {
			return nil, err
		}
		if len(bs) > 1 {
			// The index names each image by its target platform, as
			// BuildKit does, even where the base was for another (which
			// was warned of).
			img.Config.OS, img.Config.Architecture = b.platform.OS, b.platform.Architecture
			img.Config.Variant, img.Config.OSVersion = b.platform.Variant, b.platform.OSVersion
		}
		imgs[i] = img
		res.Steps = append(res.Steps, steps...)
	}
	all, err := attachProvenance(bs, imgs, res)
	if err != nil {
		return nil, err
	}
	idx, err := image.NewIndex(all, bs[0].opts.IndexAnnotations)
	if err != nil {
		return nil, err
	}
	for i := range bs {
		m := idx.Manifests[i]
		res.Manifests = append(res.Manifests, PlatformManifest{Platform: platformName(bs[i]), Digest: m.Descriptor.Digest, ConfigDigest: m.Config.Digest})
	}
	if err := saveIndex(ctx, bs[0].opts, all, imgs[0]); err != nil {
		return nil, err
	}
	res.ImageDigest, res.IndexDigest = idx.Descriptor.Digest, idx.Descriptor.Digest
	if len(bs) == 1 {
		res.ConfigDigest = idx.Manifests[0].Config.Digest
	}
	return res, nil
}

// saveIndex writes imgs and their index to every output of opts; a
// docker-archive, which holds one image and no index, gets lone alone.
func saveIndex(ctx context.Context, opts Options, imgs []*image.Image, lone *image.Image) error {
	for _, out := range opts.Outputs {
		var err error
		if out.Transport == transport.DockerArchive {
			_, err = transport.Save(ctx, out, lone, opts.Store, transport.WithRegistry(opts.Registry...))
		} else {
			_, err = transport.SaveIndex(ctx, out, imgs, opts.Store, transport.WithRegistry(opts.Registry...),
				transport.WithIndexAnnotations(opts.IndexAnnotations))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// attachProvenance returns imgs followed, with provenance, by the
// attestation manifest of each, as BuildKit orders an index, and keeps
// each statement's predicate in res.
func attachProvenance(bs []*builder, imgs []*image.Image, res *Result) ([]*image.Image, error) {
	if bs[0].opts.Provenance == ProvenanceOff {
		return imgs, nil
	}
	all := slices.Clone(imgs)
	res.Provenance = map[string]json.RawMessage{}
	for i, b := range bs {
		m, err := imgs[i].Manifest()
		if err != nil {
			return nil, err
		}
		att, err := b.attestation(m, imgs[i].Platform())
		if err != nil {
			return nil, err
		}
		if res.Provenance[platformName(b)], err = predicate(att); err != nil {
			return nil, err
		}
		all = append(all, att.Image)
	}
	return all, nil
}

// platformName is the builder's platform, os/arch[/variant].
func platformName(b *builder) string {
	if b.platformLabel != "" {
		return b.platformLabel
	}
	return image.FormatPlatform(b.platform)
}

// onceReporter passes each warning on once: every platform's builder
// reads the same Dockerfile, and would give the same warnings.
type onceReporter struct {
	Reporter
	mu   sync.Mutex
	seen map[string]bool
}

func (r *onceReporter) Warning(msg string) {
	r.mu.Lock()
	seen := r.seen[msg]
	r.seen[msg] = true
	r.mu.Unlock()
	if !seen {
		r.Reporter.Warning(msg)
	}
}
