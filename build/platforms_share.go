package build

import (
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/image"
)

// shareNodes makes the graph of every platform after the first use the
// first one's node for each stage that builds the same for all: a stage
// run once, however many platforms need it. It returns every node to
// run, each once, with its owner and the platform progress names.
//
// A stage builds the same when it is for one fixed platform (FROM
// --platform=$BUILDPLATFORM, say), has the same base, every ARG it
// declares has the same value (a target arg such as TARGETARCH does
// not), and every stage it needs builds the same too. Its step keys are
// then the same for every platform: sharing the node runs them once,
// rather than once and then finding them in the cache.
func shareNodes(bs []*builder) []*node {
	first := bs[0]
	for _, b := range bs[1:] {
		same := map[*node]*node{}
		memo := map[*node]bool{}
		var sharable func(n *node) bool
		sharable = func(n *node) bool {
			if v, ok := memo[n]; ok {
				return v
			}
			memo[n] = false
			f := b.counterpart(first, n)
			ok := f != nil
			for _, d := range n.needs() {
				ok = ok && sharable(d)
			}
			memo[n] = ok
			if ok {
				same[n] = f
			}
			return ok
		}
		for _, n := range b.graph.stages {
			sharable(n)
		}
		b.graph.replace(same)
	}
	return platformNodes(bs)
}

// counterpart is the node of first's graph that stands for n, a stage of
// b's graph, when the two build the same; nil when they may not.
func (b *builder) counterpart(first *builder, n *node) *node {
	if n.def == nil || n.index < 0 || n.dir != "" || n.ref != nil {
		return nil
	}
	f := first.graph.stages[n.index]
	if f.def == nil || f.index != n.index || f.dir != "" || f.ref != nil || f.base != n.base ||
		image.FormatPlatform(f.platform) != image.FormatPlatform(n.platform) {
		return nil
	}
	for _, cmd := range n.def.Commands {
		a, ok := cmd.(*instructions.ArgCommand)
		if !ok {
			continue
		}
		for _, kv := range a.Args {
			if _, given := b.opts.BuildArgs[kv.Key]; given {
				continue
			}
			v, has := b.args.lookupGlobal(kv.Key)
			fv, fhas := first.args.lookupGlobal(kv.Key)
			if v != fv || has != fhas {
				return nil
			}
		}
	}
	return f
}

// replace puts the node same maps each node to in its place, wherever
// the graph holds it.
func (g *graph) replace(same map[*node]*node) {
	swap := func(n *node) *node {
		if s, ok := same[n]; ok {
			return s
		}
		return n
	}
	for i, n := range g.stages {
		g.stages[i] = swap(n)
	}
	for k, n := range g.byName {
		g.byName[k] = swap(n)
	}
	g.target = swap(g.target)
	for _, n := range append(g.stages, g.images...) {
		if _, shared := same[n]; shared {
			continue
		}
		n.baseNode = swap(n.baseNode)
		for i, d := range n.deps {
			n.deps[i] = swap(d)
		}
	}
}

// platformNodes lists the nodes every builder needs, each once, and
// gives each its owner and the platform progress names: its builder's
// target platform, or for a node more than one platform needs, the
// platform it is built for.
func platformNodes(bs []*builder) []*node {
	var nodes []*node
	needed := map[*node]int{}
	for _, b := range bs {
		reachable := b.graph.reachable()
		b.multiStage = len(reachable) > 1
		for _, n := range reachable {
			if n.owner == nil {
				n.owner, n.platformLabel = b, b.platformLabel
				nodes = append(nodes, n)
			}
			needed[n]++
		}
	}
	for _, n := range nodes {
		if needed[n] > 1 {
			n.platformLabel = image.FormatPlatform(n.platform)
		}
	}
	return nodes
}
