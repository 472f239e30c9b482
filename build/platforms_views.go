package build

import (
	"context"
	"sync"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/overlay"
	digest "github.com/opencontainers/go-digest"
)

// viewSteps are the kinds of step whose layer is a function of the step
// and of what its writer (fswrite.Layer, and the --chown lookup) reads of
// the layers below through the overlay.Stack it is given. ADD is not one:
// unpacking an archive may copy a file of a lower layer by its host path.
var viewSteps = map[string]bool{"copy": true, "workdir": true}

// layerShares pairs, in a multi-platform build, the same COPY or WORKDIR
// of the platforms whose layers below differ (each platform's own base,
// say): the first platform to reach the step writes its layer, recording
// what it read below; the others wait, and take that layer when their
// own layers show the same at every path it read. It is shared by the
// builders of the build.
type layerShares struct {
	mu sync.Mutex
	m  map[digest.Digest]*viewShare
	// made names the platform that made the layer of each layerKey in
	// this build.
	made map[digest.Digest]string
}

// viewShare is the layer one platform made for a step, what it read of
// its layers below to make it, and the digest of what it found there.
type viewShare struct {
	done     chan struct{}
	platform string       // the platform that made it
	layer    *layer.Layer // nil when making it failed
	reads    *overlay.Reads
	view     digest.Digest
}

func newLayerShares() *layerShares {
	return &layerShares{m: map[digest.Digest]*viewShare{}, made: map[digest.Digest]string{}}
}

// make records that platform made the layer of the layerKey key.
func (s *layerShares) make(key digest.Digest, platform string) {
	s.mu.Lock()
	s.made[key] = platform
	s.mu.Unlock()
}

// madeBy is the platform that made the layer of the layerKey key in this
// build; "" for a layer of an earlier build, or with no shares.
func (s *layerShares) madeBy(key digest.Digest) string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.made[key]
}

// claim returns the share of the step whose key is key, and whether the
// caller is the first, which must make the layer and then close done.
func (s *layerShares) claim(key digest.Digest) (*viewShare, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key]; ok {
		return v, false
	}
	v := &viewShare{done: make(chan struct{})}
	s.m[key] = v
	return v, true
}

// shareLayer makes the layer of a COPY or WORKDIR step that missed, in a
// multi-platform build: the first platform writes it, the others take
// it when their layers below agree with the first's wherever it looked
// (see fswrite.ViewDigest), and write their own when they do not. from
// names the platform whose layer was taken; "" when this one made it.
func (b *builder) shareLayer(ctx context.Context, st *stage, p *plan, info StepInfo) (_ *layer.Layer, from string, err error) {
	if b.shares == nil || !viewSteps[p.kind] || b.driver.Features().Exclusive {
		l, err := b.writeLayer(ctx, st, p, info)
		return l, "", err
	}
	// The step's key on no parent: what it writes, whatever is below.
	key, _ := p.key(cache.NewKey("any parent").Sum(), b.epoch)
	share, first := b.shares.claim(key)
	if first {
		defer close(share.done)
		reads := overlay.NewReads()
		l, err := b.writeLayer(withReads(context.WithValue(ctx, forAllKey{}, true), reads), st, p, info)
		if err != nil {
			return nil, "", err
		}
		if view, err := b.viewDigest(ctx, st, reads); err == nil {
			share.layer, share.reads, share.view, share.platform = l, reads, view, b.platformLabel
		}
		return l, "", nil
	}
	select {
	case <-share.done:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	if share.layer != nil {
		// A view that cannot be read is one that does not agree.
		if view, err := b.viewDigest(ctx, st, share.reads); err == nil && view == share.view {
			return share.layer, b.takenFrom(share.platform), nil
		}
	}
	l, err := b.writeLayer(ctx, st, p, info)
	return l, "", err
}

// viewDigest is what the stage's layers show at the paths reads holds.
func (b *builder) viewDigest(ctx context.Context, st *stage, reads *overlay.Reads) (digest.Digest, error) {
	s, err := b.stack(ctx, st)
	if err != nil {
		return "", err
	}
	return fswrite.ViewDigest(reads, s)
}

type forAllKey struct{}

// writesForAll reports whether ctx is that of the platform that writes a
// layer for every platform it fits (shareLayer's first): its layer is
// compressed as it is written. Any other platform's is compressed once
// per diffID (diffOnce), since two can still make the same layer.
func writesForAll(ctx context.Context) bool {
	v, _ := ctx.Value(forAllKey{}).(bool)
	return v
}

type readsKey struct{}

// withReads makes the step's writer record its reads of the layers below
// in reads (see lowerOf).
func withReads(ctx context.Context, reads *overlay.Reads) context.Context {
	return context.WithValue(ctx, readsKey{}, reads)
}

// lowerOf is the stack a step's writer reads the layers below through:
// lower, recording its reads when withReads asked for it.
func lowerOf(ctx context.Context, lower *overlay.Stack) *overlay.Stack {
	if reads, ok := ctx.Value(readsKey{}).(*overlay.Reads); ok {
		return lower.Recording(reads)
	}
	return lower
}
