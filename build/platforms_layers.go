package build

import (
	"context"
	"fmt"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
)

// fileSteps are the kinds of step whose layer depends on the files below
// it and on the step's own key fields alone: not on the platform, nor on
// the config (what they take from it, such as WORKDIR's user or COPY's
// destination, is a key field).
var fileSteps = map[string]bool{"copy": true, "add": true, "workdir": true}

// layerKey is, in a multi-platform build, the key of the layer that a
// COPY, ADD or WORKDIR step makes on the stage's layers: the step keyed
// on their diffIDs rather than on the stage's key, which chains from the
// platform's FROM. The same step of two platforms whose layers so far are
// the same (FROM scratch, say) then makes its layer once. ok is false for
// a step that keys the usual way.
func (b *builder) layerKey(st *stage, p *plan) (key digest.Digest, ok bool) {
	if b.platformLabel == "" || b.opts.NoCache || p.link || !fileSteps[p.kind] {
		return "", false
	}
	diffIDs := make([]string, len(st.img.Layers))
	for i, l := range st.img.Layers {
		diffIDs[i] = l.DiffID.String()
	}
	parent := cache.NewKey("layers").Strings("diff_ids", diffIDs).Sum()
	stepKey, _ := p.key(parent, b.epoch)
	return cache.NewKey("layer-of").String("step", stepKey.String()).Sum(), true
}

// makeLayer makes the layer of a step that missed: once per layerKey in a
// multi-platform build, under that key's lock, so that the platforms that
// need the same layer wait for the first to make it (and, through
// shareLayer, once for platforms whose layers differ where the step does
// not look); else by writeLayer. from is the platform whose step made the
// layer, when another's did in this build.
func (b *builder) makeLayer(ctx context.Context, st *stage, p *plan, info StepInfo) (_ *layer.Layer, from string, _ error) {
	key, ok := b.layerKey(st, p)
	if !ok {
		l, err := b.writeLayer(ctx, st, p, info)
		return l, "", err
	}
	rec, err := b.opts.Store.Step(key)
	if err == nil && rec.Layer != nil {
		b.opts.Store.Used(rec)
		return rec.Layer, b.takenFrom(b.shares.madeBy(key)), nil
	}
	rec, _, err = b.opts.Store.MakeStep(ctx, key, false, func() (*cache.Record, error) {
		l, from, err := b.shareLayer(ctx, st, p, info)
		if err != nil {
			return nil, err
		}
		if from == "" {
			from = b.platformLabel
		}
		b.shares.make(key, from)
		return &cache.Record{Key: key, CreatedBy: "layer of " + p.createdBy, Created: b.opts.Now().UTC(), Layer: l}, nil
	})
	if err != nil {
		return nil, "", err
	}
	if rec.Layer == nil {
		return nil, "", fmt.Errorf("layer record %s has no layer", key)
	}
	return rec.Layer, b.takenFrom(b.shares.madeBy(key)), nil
}

// takenFrom is the LayerFrom of a layer the step of platform made: ""
// when that is this builder's own (the same step of another stage).
func (b *builder) takenFrom(platform string) string {
	if platform == b.platformLabel {
		return ""
	}
	return platform
}
