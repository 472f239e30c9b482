package build

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/parser"
	"github.com/mybuild/mybuild/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// node is one stage of the build, or an image a --from names.
type node struct {
	index int           // position in the Dockerfile; -1 for an image
	def   *parser.Stage // nil for an image
	// base is the expanded FROM of a stage, or the image reference.
	base string
	// platform is the stage's: its FROM --platform, else the build's.
	platform ocispec.Platform
	baseNode *node   // set when FROM names another stage or a named context
	deps     []*node // the stages and images --from flags name
	// ref is the image of a named context; dir its directory, for a
	// directory context (base is then "scratch").
	ref *transport.Ref
	dir string
	// ahead is the load of its base image from a registry, when the
	// build goes on meanwhile with the image the tag named last (see
	// builder.startLoads).
	ahead *aheadLoad
	// label names the stage in progress output and errors, and
	// platformLabel its platform in a multi-platform build.
	label, platformLabel string
	// owner is the builder that runs the node: in a multi-platform
	// build, a stage every platform shares is run by one of them.
	owner *builder

	done   chan struct{}
	result *stage
	err    error
}

// imageRef is the image a node's FROM names: that of its named context,
// or its base as a transport reference.
func (n *node) imageRef() (transport.Ref, error) {
	if n.ref != nil {
		return *n.ref, nil
	}
	return transport.Parse(n.base)
}

// graph is the stages of a build and what they need from each other.
type graph struct {
	stages []*node // in Dockerfile order
	images []*node // images named by --from
	target *node
	// byName and byRef find what a --from names.
	byName map[string]*node
	byRef  map[string]*node
	// platform is the build's target platform.
	platform ocispec.Platform
	// contexts are the named build contexts by contextKey, and
	// contextNodes the nodes made for those named so far.
	contexts     map[string]NamedContext
	contextNodes map[string]*node
}

// errDependency marks a stage that did not run because one it needs
// failed; the failure itself is reported by that stage.
var errDependency = errors.New("a stage it depends on failed")

// plan builds the graph: each stage's base, the stages and images its
// --from flags name, and the target (the last stage unless named).
func (b *builder) plan(target string) (*graph, error) {
	df := b.df
	g := &graph{platform: b.platform, contexts: contextsByKey(b.opts.Contexts), contextNodes: map[string]*node{}}
	byName := map[string]*node{}
	// replaced are the stages a named context of the same name replaces.
	replaced := map[*node]bool{}
	for i := range df.Stages {
		s := &df.Stages[i]
		base, err := df.ExpandWord(s.BaseName, b.args.global)
		if err != nil {
			return nil, df.ErrorAtLine(s.Line, err)
		}
		if base == "" {
			return nil, df.ErrorAtLine(s.Line, fmt.Errorf("base name (%s) should not be blank", s.BaseName))
		}
		platform, err := b.stagePlatform(s)
		if err != nil {
			return nil, df.ErrorAtLine(s.Line, err)
		}
		n := &node{index: i, def: s, base: base, platform: platform, label: s.Name, done: make(chan struct{})}
		if n.label == "" {
			n.label = fmt.Sprintf("stage-%d", i)
		}
		n.baseNode = byName[strings.ToLower(base)]
		if n.baseNode == nil && !strings.EqualFold(base, "scratch") {
			n.baseNode = g.contextNode(base)
		}
		g.stages = append(g.stages, n)
		if s.Name != "" {
			byName[s.Name] = n
			if c := g.contextNode(s.Name); c != nil {
				byName[s.Name], replaced[n] = c, true
			}
		}
	}
	images := map[string]*node{}
	g.byName, g.byRef = byName, images
	for _, n := range g.stages {
		if replaced[n] {
			continue
		}
		for _, cmd := range n.def.Commands {
			for _, from := range parser.CommandFroms(cmd) {
				dep, err := g.resolveFrom(from, byName, images)
				if err != nil {
					return nil, df.ErrorAt(cmd, err)
				}
				if dep == n {
					return nil, df.ErrorAt(cmd, fmt.Errorf("--from=%s: a stage cannot use itself", from))
				}
				n.deps = append(n.deps, dep)
			}
		}
	}
	g.target = g.stages[len(g.stages)-1]
	if name := g.target.def.Name; replaced[g.target] {
		g.target = byName[name]
	}
	if target != "" {
		t, ok := byName[strings.ToLower(target)]
		if !ok {
			return nil, fmt.Errorf("target stage %q could not be found", target)
		}
		g.target = t
	}
	if err := g.checkCycles(); err != nil {
		return nil, err
	}
	return g, nil
}

// resolveFrom finds what --from names: a stage by name, a named build
// context, a stage by index, or else an image, as in BuildKit.
func (g *graph) resolveFrom(from string, byName, images map[string]*node) (*node, error) {
	if n, ok := byName[strings.ToLower(from)]; ok {
		return n, nil
	}
	if n := g.contextNode(from); n != nil {
		return n, nil
	}
	if i, err := strconv.Atoi(from); err == nil {
		if i < 0 || i >= len(g.stages) {
			return nil, fmt.Errorf("--from=%s: there is no stage %d", from, i)
		}
		return g.stages[i], nil
	}
	if n, ok := images[from]; ok {
		return n, nil
	}
	if _, err := transport.Parse(from); err != nil {
		return nil, fmt.Errorf("--from=%s: %w", from, err)
	}
	n := &node{index: -1, base: from, platform: g.platform, label: from, done: make(chan struct{})}
	images[from] = n
	g.images = append(g.images, n)
	return n, nil
}

// needs lists what a node waits for.
func (n *node) needs() []*node {
	if n.baseNode != nil {
		return append([]*node{n.baseNode}, n.deps...)
	}
	return n.deps
}

// reachable lists the nodes the target needs, itself included, in
// Dockerfile order: stages the target does not need are not built.
func (g *graph) reachable() []*node {
	seen := map[*node]bool{}
	var visit func(n *node)
	visit = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, d := range n.needs() {
			visit(d)
		}
	}
	visit(g.target)
	var out []*node
	for _, n := range append(g.stages, g.images...) {
		if seen[n] {
			out = append(out, n)
		}
	}
	return out
}

func (g *graph) checkCycles() error {
	state := map[*node]int{} // 1: visiting, 2: done
	var visit func(n *node) error
	visit = func(n *node) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("circular dependency between stages involving %s", n.label)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range n.needs() {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[n] = 2
		return nil
	}
	for _, n := range g.stages {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}

// stagePlatform is the platform of a stage: its FROM --platform, expanded
// with the global args ($BUILDPLATFORM, $TARGETPLATFORM), else the build's.
func (b *builder) stagePlatform(s *parser.Stage) (ocispec.Platform, error) {
	if s.Platform == "" {
		return b.platform, nil
	}
	v, err := b.df.ExpandWord(s.Platform, b.args.global)
	if err != nil {
		return ocispec.Platform{}, err
	}
	p, err := image.ParsePlatform(v)
	if err != nil {
		return ocispec.Platform{}, fmt.Errorf("FROM --platform=%s: %w", s.Platform, err)
	}
	return p, nil
}

// fromStage is the finished stage or image a --from names. The scheduler
// has run it before the stage that asks.
func (b *builder) fromStage(from string) (*stage, error) {
	n, err := b.graph.resolveFrom(from, b.graph.byName, b.graph.byRef)
	if err != nil {
		return nil, err
	}
	select {
	case <-n.done:
	default:
		return nil, fmt.Errorf("--from=%s: the stage has not been built", from)
	}
	if n.result == nil {
		return nil, fmt.Errorf("--from=%s: %w", from, errDependency)
	}
	return n.result, nil
}
