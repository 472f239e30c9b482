package build

import (
	"context"
	"strings"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/transport"
)

// NamedContext is what a build context name stands for (buildx's
// --build-context NAME=VALUE): a directory, or an image.
type NamedContext struct {
	// Dir is a directory. Its files, minus those its .dockerignore
	// excludes, become an image of one layer, owned by root, as
	// COPY . / from scratch would make it.
	Dir string
	// Image is an image (docker-image://REF is a registry reference,
	// oci-layout://DIR[:TAG] a layout), used when Dir is "".
	Image transport.Ref
}

// contextKey is the form in which a build context name and the name FROM
// or --from gives are compared: Docker's familiar form, as BuildKit
// compares them ("docker.io/library/alpine:latest" is "alpine").
func contextKey(name string) string {
	name = strings.TrimSuffix(name, ":latest")
	for _, prefix := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			return rest
		}
	}
	return name
}

// contextNode is the node of the named build context that name names, or
// nil when there is none. Each context has one node, made the first time
// it is named: an image, loaded as --from loads one, or a directory, made
// into a one-layer image.
func (g *graph) contextNode(name string) *node {
	key := contextKey(name)
	if n, ok := g.contextNodes[key]; ok {
		return n
	}
	nc, ok := g.contexts[key]
	if !ok {
		return nil
	}
	n := &node{index: -1, platform: g.platform, label: name, done: make(chan struct{})}
	if nc.Dir != "" {
		n.base, n.dir = "scratch", nc.Dir
	} else {
		ref := nc.Image
		n.base, n.ref = ref.String(), &ref
	}
	g.contextNodes[key] = n
	g.images = append(g.images, n)
	return n
}

// contextsByKey indexes the named contexts by contextKey.
func contextsByKey(contexts map[string]NamedContext) map[string]NamedContext {
	out := make(map[string]NamedContext, len(contexts))
	for name, nc := range contexts {
		out[contextKey(name)] = nc
	}
	return out
}

// runContextDir builds the node of a directory context: FROM scratch,
// then its files copied to /.
func (b *builder) runContextDir(ctx context.Context, n *node, label string) (*stage, error) {
	st, _, err := b.fromStep(ctx, n, StepInfo{Stage: label, Platform: n.platformLabel, Index: 1, Total: 2, Instruction: "FROM scratch"})
	if err != nil {
		return nil, err
	}
	info := StepInfo{Stage: label, Platform: n.platformLabel, Index: 2, Total: 2, Instruction: "COPY . /"}
	err = b.step(ctx, st, info, func() (*plan, error) { return b.planContextCopy(ctx, n.dir) })
	if err != nil {
		return nil, err
	}
	return st, nil
}

// planContextCopy plans the copy of a whole directory context to /. Its
// key has the files' content, as a COPY from the build context has, and
// nothing of where the directory is.
func (b *builder) planContextCopy(ctx context.Context, dir string) (*plan, error) {
	stats, saveStats, err := b.statCache(dir)
	if err != nil {
		return nil, err
	}
	src, err := buildcontext.Open(dir, "", buildcontext.WithStatCache(stats))
	if err != nil {
		return nil, err
	}
	cp := &copyPlan{dest: "/", destDir: true, patterns: []string{"."}, owners: b.opts.ContextOwners}
	if err := cp.collect(src); err != nil {
		return nil, err
	}
	for _, s := range cp.sources {
		if err := src.Hash(ctx, s.files); err != nil {
			return nil, err
		}
	}
	if err := saveStats(); err != nil {
		b.rep.Warning("save stat cache: " + err.Error())
	}
	s := &copyStep{b: b, cp: cp}
	return &plan{kind: "copy", createdBy: "COPY . /", inputs: s, layer: s}, nil
}
