package build

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/parser"
	"github.com/mybuild/mybuild/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// runNode builds a stage, or loads an image a --from names.
func (b *builder) runNode(ctx context.Context, n *node) (_ *stage, err error) {
	label := ""
	if b.multiStage {
		label = n.label
	}
	switch {
	case n.dir != "":
		return b.runContextDir(ctx, n, label)
	case n.def == nil:
		info := StepInfo{Stage: label, Platform: n.platformLabel, Index: 1, Total: 1, Instruction: "FROM " + n.base}
		st, _, err := b.fromStep(ctx, n, info)
		return st, err
	}
	total := len(n.def.Commands) + 1
	from := "FROM " + n.def.BaseName
	if n.def.Name != "" {
		from += " AS " + n.def.Name
	}
	st, fresh, err := b.fromStep(ctx, n, StepInfo{Stage: label, Platform: n.platformLabel, Index: 1, Total: total, Line: n.def.Line, Instruction: from})
	if err != nil {
		return nil, err
	}
	if fresh && len(n.def.Commands) > 0 {
		stop := b.prefetch(ctx, st)
		defer func() { stop(err != nil) }()
	}
	if n == b.graph.target && b.aheadCtx != nil {
		st.onMiss = sync.OnceFunc(func() { b.startAheads(st) })
	}
	triggers, err := b.triggers(st, n.def.Line)
	if err != nil {
		return nil, err
	}
	cmds := append(triggers, n.def.Commands...)
	total = len(cmds) + 1
	for i, cmd := range cmds {
		line := parser.Line(cmd)
		text := instructionText(cmd)
		if i < len(triggers) {
			line, text = n.def.Line, "ONBUILD "+text
		}
		info := StepInfo{Stage: label, Platform: n.platformLabel, Index: i + 2, Total: total, Line: line, Instruction: text}
		st.runsAhead = slices.ContainsFunc(cmds[i+1:], isRun)
		st.storeLater = n == b.graph.target && b.platformLabel == "" && !b.opts.NoLayers && i == len(cmds)-1
		if err := b.step(ctx, st, info, func() (*plan, error) { return b.prepare(ctx, st, cmd) }); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// isRun tells whether cmd is a RUN.
func isRun(cmd instructions.Command) bool {
	_, ok := cmd.(*instructions.RunCommand)
	return ok
}

// triggers takes the ONBUILD triggers of a stage's base out of its config
// and parses them, to run right after the FROM, as BuildKit does. For FROM
// <stage> they are that stage's own ONBUILD instructions (it ran, and so
// dropped, the ones it inherited).
func (b *builder) triggers(st *stage, line int) ([]instructions.Command, error) {
	exprs := st.img.Config.Config.OnBuild
	st.img.Config.Config.OnBuild = nil
	var cmds []instructions.Command
	for _, expr := range exprs {
		cmd, err := b.df.ParseTrigger(expr, line)
		if err != nil {
			return nil, err
		}
		if len(parser.CommandFroms(cmd)) > 0 {
			return nil, b.df.ErrorAtLine(line, fmt.Errorf("ONBUILD trigger %q: --from in a trigger is not supported yet", expr))
		}
		cmds = append(cmds, cmd)
	}
	return cmds, nil
}

// fromStep runs and reports the FROM of a node.
func (b *builder) fromStep(ctx context.Context, n *node, info StepInfo) (_ *stage, fresh bool, _ error) {
	start := time.Now()
	b.rep.StepStarted(info)
	st, fresh, err := b.from(ctx, n)
	res := StepResult{Stage: info.Stage, Platform: info.Platform, Index: 1, Total: info.Total, Instruction: info.Instruction, Line: info.Line, Cached: !fresh}
	if !fresh {
		res.CacheSource = "local"
	}
	if st != nil {
		res.Key = st.key
	}
	res.Duration = time.Since(start)
	b.rep.StepFinished(info, res, err)
	b.addResult(n, res)
	if err != nil {
		return nil, false, b.atBase(n, err)
	}
	return st, fresh, nil
}

// prefetch unpacks the layers of st's base in the background, while the
// first steps hash the context and look for their keys: a base new to
// the cache is unpacked for the first step that misses, which is as a
// rule the first step. The stage's end calls stop, which waits for the
// unpacking to end, after cancelling it when the stage failed. Nothing
// is unpacked ahead by a driver with one root, nor by a build that makes
// no layer (NoLayers; Explain writes no FROM record, so no base is new to
// it). An unpacking that fails is left for the step that needs the
// layers, which tries again and reports it.
func (b *builder) prefetch(ctx context.Context, st *stage) (stop func(cancel bool)) {
	if b.driver.Features().Exclusive || b.opts.NoLayers || len(st.img.Layers) == 0 {
		return func(bool) {}
	}
	ctx, cancel := context.WithCancel(ctx)
	// The steps add to st.img.Layers meanwhile.
	base := slices.Clone(st.img.Layers)
	done := make(chan struct{})
	st.unpacking = done
	go func() {
		defer close(done)
		st.mu.Lock()
		defer st.mu.Unlock()
		b.unpackLayers(ctx, st, base)
	}()
	return func(failed bool) {
		if failed {
			cancel()
		}
		<-done
		cancel()
	}
}

// from makes a node's starting state: the empty image, a copy of another
// stage (its config, its environment and build args too, as in BuildKit),
// or an image. fresh says the image was not in the cache before this
// build: it was pulled, or read from its archive or layout.
func (b *builder) from(ctx context.Context, n *node) (st *stage, fresh bool, err error) {
	switch {
	case n.baseNode != nil:
		st = n.baseNode.result.child()
	case strings.EqualFold(n.base, "scratch"):
		img := scratch(n.platform)
		st = &stage{img: img, key: fromKey(&img, n.platform)}
	default:
		ref, err := n.imageRef()
		if err != nil {
			return nil, false, err
		}
		img, err := b.baseImage(ctx, ref, n)
		if err != nil {
			return nil, false, err
		}
		b.checkBasePlatform(n, img)
		st = &stage{img: *img, key: fromKey(img, n.platform), base: len(img.Layers)}
		if fresh, err = b.recordBase(st, "FROM "+n.base); err != nil {
			return nil, false, err
		}
	}
	st.order, st.platform = n.order(len(b.df.Stages)), n.platform
	b.nameStage(st, n)
	if st.mu == nil {
		st.mu = &sync.Mutex{}
	}
	if st.env == nil {
		st.env = slices.Clone(st.img.Config.Config.Env)
	}
	return st, fresh, nil
}

// loadImage reads the base image ref of node n, named by FROM or
// --from: from a local transport, or else from a registry ("alpine",
// "docker://..."); a bare path is a registry reference here (see
// transport.Parse). resolved, when set, gets what it found too.
func (b *builder) loadImage(ctx context.Context, ref transport.Ref, n *node, resolved func(transport.Resolved)) (*image.Image, error) {
	opts := append(b.loadOptions(n.platform),
		transport.WithWarnings(b.rep.Warning),
		transport.WithResolved(func(r transport.Resolved) {
			b.materials.noteBase(r, n.platform)
			if resolved != nil {
				resolved(r)
			}
		}))
	return transport.Load(ctx, ref, b.opts.Store, opts...)
}

// loadOptions are how loadImage finds an image for platform.
func (b *builder) loadOptions(platform ocispec.Platform) []transport.Option {
	return []transport.Option{
		transport.WithPlatform(platform),
		transport.WithAnyLonePlatform(),
		transport.WithPull(b.opts.Pull),
		transport.WithRegistry(b.opts.Registry...),
	}
}

// checkBasePlatform warns, as BuildKit does, of a base image for another
// platform than the stage's: a single-platform image is used whatever
// its platform, and its RUN steps may then fail.
func (b *builder) checkBasePlatform(n *node, img *image.Image) {
	got, want := img.Platform(), n.platform
	if got.OS == "" || got.Architecture == "" || image.SameOSArch(got, want) ||
		b.lintResult.Skips("InvalidBaseImagePlatform") {
		return
	}
	msg := fmt.Sprintf("InvalidBaseImagePlatform: Base image %s was pulled with platform %q, expected %q for current build",
		n.base, image.FormatPlatform(got), image.FormatPlatform(want))
	if n.def != nil {
		msg = b.df.ErrorAtLine(n.def.Line, errors.New(msg)).Error()
	}
	b.rep.Warning(msg)
}

// recordBase keeps a record of the base image's layers, so that they age
// and get pruned like the layers of steps. made says there was none.
func (b *builder) recordBase(st *stage, createdBy string) (made bool, err error) {
	if b.opts.Explain {
		return false, nil // writes nothing
	}
	if rec, err := b.opts.Store.Step(st.key); err == nil {
		b.opts.Store.Used(rec)
		return false, nil
	} else if !errors.Is(err, cache.ErrNotFound) {
		return false, err
	}
	rec := &cache.Record{Key: st.key, CreatedBy: createdBy, Created: b.opts.Now().UTC()}
	rec.Base = slices.Clone(st.img.Layers)
	return true, b.opts.Store.PutStep(rec)
}

// step runs one step, planned by prepare, or takes it from the cache.
func (b *builder) step(ctx context.Context, st *stage, info StepInfo, prepare func() (*plan, error)) error {
	start := time.Now()
	b.rep.StepStarted(info)
	res := StepResult{Stage: info.Stage, Platform: info.Platform, Index: info.Index, Total: info.Total, Instruction: info.Instruction, Line: info.Line}
	err := b.runStep(ctx, st, info, prepare, &res)
	res.Duration = time.Since(start)
	b.rep.StepFinished(info, res, err)
	b.addResultFor(st, res)
	var bf *baseFailure
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &bf):
		return bf.err // the FROM's, not the step's
	}
	err = fmt.Errorf("%s %s: %w", info.Label(), shortText(info.Instruction), err)
	if info.Line == 0 {
		return err // a named context's step: no Dockerfile line
	}
	return b.df.ErrorAtLine(info.Line, err)
}

// instructionText is the Dockerfile text of a command, on one line.
func instructionText(cmd instructions.Command) string {
	if s, ok := cmd.(fmt.Stringer); ok {
		return s.String()
	}
	return cmd.Name()
}

// shortText cuts an instruction down for an error line.
func shortText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
