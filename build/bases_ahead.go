package build

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/transport"
)

// A base image from a registry is resolved again by every build: its tag
// may name another image now. The registry's answer is the longest wait
// of a build whose steps are all cached, and the build need not wait for
// it to go on: when the store holds all of the image the tag named last,
// the build goes on with that image while the registry is asked, and
// waits for the answer only before a RUN step runs a command, and before
// the image is written. Steps made meanwhile are cached under keys of the
// image they were made on, which stay true whatever the tag names. When
// the tag names another image now, the build starts again on it: the
// load asked ahead has pulled it by then.

// errBaseMoved is the error of a build that went on with the image a tag
// named last, when it names another one now.
var errBaseMoved = errors.New("the tag names another image now")

// baseLoads are the loads a build asked ahead, shared by its builders.
type baseLoads struct {
	mu    sync.Mutex
	loads []*aheadLoad
}

// aheadLoad is the load of a node's base image from a registry, while
// the build goes on with the image its tag named last.
type aheadLoad struct {
	recorded *image.Image
	was      transport.Resolved // what recorded was resolved to
	done     chan struct{}
	err      error // once done: the load's, or errBaseMoved
}

// startLoads starts loading, in the background, the base images of g
// that come from a registry and that the store holds whole, as the tag
// named them last (see transport.Recorded); from takes that image
// meanwhile. A build that makes no layer (it stops at the first step
// that would) asks as it always did.
func (b *builder) startLoads(ctx context.Context, g *graph) {
	if b.opts.bases == nil || b.opts.NoLayers {
		return
	}
	for _, n := range g.reachable() {
		if n.baseNode != nil || strings.EqualFold(n.base, "scratch") {
			continue
		}
		ref, err := n.imageRef()
		if err != nil {
			continue
		}
		img, was, ok := transport.Recorded(ref, b.opts.Store, b.loadOptions(n.platform)...)
		if !ok {
			continue
		}
		l := &aheadLoad{recorded: img, was: was, done: make(chan struct{})}
		n.ahead = l
		b.opts.bases.add(l)
		go func() {
			defer close(l.done)
			var now transport.Resolved
			_, err := b.loadImage(ctx, ref, n, func(r transport.Resolved) { now = r })
			switch {
			case err != nil:
				l.err = b.atBase(n, err)
			case now.Digest != was.Digest:
				l.err = b.atBase(n, fmt.Errorf("%s: %w (%s, not %s)", was.Ref, errBaseMoved, now.Digest, was.Digest))
			}
		}()
	}
}

// atBase places err at the line of n's FROM (an image a --from names has
// none).
func (b *builder) atBase(n *node, err error) error {
	if n.def != nil {
		return b.df.ErrorAtLine(n.def.Line, err)
	}
	return err
}

// baseImage is the image of n's FROM: the one its tag named last when it
// is being loaded ahead, else the one loadImage reads.
func (b *builder) baseImage(ctx context.Context, ref transport.Ref, n *node) (*image.Image, error) {
	if n.ahead != nil {
		return n.ahead.recorded, nil
	}
	return b.loadImage(ctx, ref, n, nil)
}

func (bl *baseLoads) add(l *aheadLoad) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	bl.loads = append(bl.loads, l)
}

// list is the loads asked so far; none for a build that asks none.
func (bl *baseLoads) list() []*aheadLoad {
	if bl == nil {
		return nil
	}
	bl.mu.Lock()
	defer bl.mu.Unlock()
	return bl.loads
}

// baseFailure is the failure of a load asked ahead, placed at its FROM's
// line already: the step that waited for it passes it on as it is.
type baseFailure struct{ err error }

func (f *baseFailure) Error() string { return f.err.Error() }
func (f *baseFailure) Unwrap() error { return f.err }

// confirm waits for the loads asked ahead, and returns the first error
// among them (a *baseFailure): errBaseMoved when a tag names another
// image now.
func (bl *baseLoads) confirm(ctx context.Context) error {
	for _, l := range bl.list() {
		select {
		case <-l.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if l.err != nil {
			return &baseFailure{l.err}
		}
	}
	return nil
}

// wait waits for the loads asked ahead to end, whatever their outcome.
func (bl *baseLoads) wait() {
	for _, l := range bl.list() {
		<-l.done
	}
}

// confirmBases is confirm for b's build: called before a RUN step runs
// its command, and before the image is written.
func (b *builder) confirmBases(ctx context.Context) error {
	return b.opts.bases.confirm(ctx)
}
