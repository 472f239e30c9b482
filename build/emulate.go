package build

import (
	"context"
	"errors"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/sandbox"
)

// checkEmulators fails the build before anything runs when a stage for
// a platform the machine cannot run (no binfmt_misc emulator, see
// sandbox.CanRun) has a RUN step that the cache lacks: one line, at that
// stage's first RUN, naming the platform and the package to install.
//
// Only stages with a RUN step for such a platform are looked at, and only
// when there is one is the cache asked: a cache-only pass of the build
// (Options.NoLayers, nothing reported, nothing written), in which every
// node goes as far as the cache takes it. A node for such a platform that
// stops before its end, or waits on one that did, has a RUN step to run.
func checkEmulators(ctx context.Context, opts Options, nodes []*node) error {
	missing := map[string]error{}
	for _, n := range nodes {
		if firstRun(n) == nil {
			continue
		}
		p := image.FormatPlatform(n.platform)
		if _, seen := missing[p]; !seen {
			missing[p] = sandbox.CanRun(p, n.platform.Architecture)
		}
	}
	if !anyMissing(missing) {
		return nil
	}
	dry := opts
	dry.NoLayers, dry.Reporter, dry.Outputs, dry.Exports = true, nil, nil, nil
	bs, dryNodes, err := planBuild(ctx, dry)
	if err != nil {
		return err
	}
	saveStats, err := bs[0].openContext()
	if err != nil {
		return err
	}
	for _, b := range bs[1:] {
		b.bctx = bs[0].bctx
	}
	for _, b := range bs {
		b.multiStage = len(b.graph.reachable()) > 1
	}
	for _, n := range dryNodes {
		if n.owner == nil {
			n.owner = bs[0]
		}
	}
	// What failed, and why, is read from each node below; the stat cache
	// is saved again by the build itself.
	_ = runNodes(ctx, dryNodes, bs[0].driver.Features().Exclusive, true)
	_ = saveStats()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, n := range dryNodes {
		if n.err != nil && !errors.Is(n.err, ErrLayerNeeded) && !errors.Is(n.err, errDependency) {
			return n.err // the build's own failure, such as a base not found
		}
	}
	for _, n := range dryNodes {
		cmd := firstRun(n)
		if n.err == nil || cmd == nil {
			continue
		}
		if err := missing[image.FormatPlatform(n.platform)]; err != nil {
			return n.owner.df.ErrorAt(cmd, err)
		}
	}
	return nil
}

// firstRun is the first RUN instruction of a stage; nil for none.
func firstRun(n *node) instructions.Command {
	if n.def == nil {
		return nil
	}
	for _, cmd := range n.def.Commands {
		if _, ok := cmd.(*instructions.RunCommand); ok {
			return cmd
		}
	}
	return nil
}

// anyMissing tells whether a platform cannot run here.
func anyMissing(missing map[string]error) bool {
	for _, err := range missing {
		if err != nil {
			return true
		}
	}
	return false
}
