package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
	digest "github.com/opencontainers/go-digest"
)

// plan is one instruction, expanded and ready to be keyed and run.
type plan struct {
	kind string
	// fields adds what the result depends on, beyond the parent key.
	fields    func(k *cache.KeyBuilder)
	createdBy string
	change    *ConfigChange
	// write fills a new layer dir with the step's changes; nil for steps
	// that only change the config.
	write func(ctx context.Context, upper string, lower *overlay.Stack, out StepInfo) error
	// after changes the stage beyond the image config (ARG values, for
	// one), on a cache hit as on a miss.
	after func(st *stage)
	// noHistory leaves the step out of the image history, as BuildKit
	// does for ONBUILD.
	noHistory bool
}

func (p *plan) key(parent digest.Digest) digest.Digest {
	k := cache.NewKey(p.kind).String("parent", parent.String()).String("created_by", p.createdBy)
	if p.fields != nil {
		p.fields(k)
	}
	return k.Sum()
}

func (b *builder) runStep(ctx context.Context, st *stage, info StepInfo, cmd instructions.Command, res *StepResult) error {
	p, err := b.prepare(ctx, st, cmd)
	if err != nil {
		return err
	}
	key := p.key(st.key)
	res.Key = key
	rec, err := b.lookup(key)
	if err != nil {
		return err
	}
	if rec != nil {
		res.Cached = true
	} else if rec, res.Cached, err = b.execute(ctx, st, p, key, info); err != nil {
		return err
	}
	if rec.Layer != nil {
		res.Layer = &image.Layer{MediaType: rec.Layer.MediaType, Digest: rec.Layer.Digest, Size: rec.Layer.Size, DiffID: rec.Layer.DiffID}
	}
	if err := st.apply(rec, key, !p.noHistory); err != nil {
		return err
	}
	if p.after != nil {
		p.after(st)
	}
	return nil
}

// lookup finds a usable record, unless the cache is off.
func (b *builder) lookup(key digest.Digest) (*cache.Record, error) {
	if b.opts.NoCache {
		return nil, nil
	}
	rec, err := b.opts.Store.Step(key)
	if errors.Is(err, cache.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b.opts.Store.Touch(key)
	return rec, nil
}

// execute runs a step that missed and stores its record. Two builds that
// miss the same key at once do the work once: the second waits for the
// first's lock and then finds its record (cached is then true).
func (b *builder) execute(ctx context.Context, st *stage, p *plan, key digest.Digest, info StepInfo) (rec *cache.Record, cached bool, err error) {
	store := b.opts.Store
	unlock, err := store.LockStep(ctx, key)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if found, err := b.lookup(key); err != nil || found != nil {
		return found, found != nil, err
	}
	rec = &cache.Record{Key: key, CreatedBy: p.createdBy, Created: b.opts.Now().UTC()}
	if p.change != nil {
		if rec.Change, err = json.Marshal(p.change); err != nil {
			return nil, false, err
		}
	}
	if p.write != nil {
		lower, err := b.stack(ctx, st)
		if err != nil {
			return nil, false, err
		}
		upper, err := b.newUpper(lower)
		if err != nil {
			return nil, false, err
		}
		if rec.Layer, err = b.writeLayer(ctx, p, upper, lower, info); err != nil {
			os.RemoveAll(upper)
			return nil, false, err
		}
	}
	return rec, false, store.PutStep(rec)
}

// writeLayer runs the step into upper, turns upper into a blob, and keeps
// upper as the unpacked layer.
func (b *builder) writeLayer(ctx context.Context, p *plan, upper string, lower *overlay.Stack, info StepInfo) (*cache.LayerRecord, error) {
	if err := p.write(ctx, upper, lower, info); err != nil {
		return nil, err
	}
	store := b.opts.Store
	w, err := store.NewBlobWriter()
	if err != nil {
		return nil, err
	}
	defer w.Abort()
	blob, err := layerdiff.WriteBlob(ctx, w, upper, lower)
	if err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	if err := w.Commit(blob.Digest); err != nil {
		return nil, err
	}
	if _, err := store.CommitLayer(upper, blob.DiffID); err != nil {
		return nil, err
	}
	return &cache.LayerRecord{MediaType: blob.MediaType, Digest: blob.Digest, DiffID: blob.DiffID, Size: blob.Size}, nil
}

// apply makes a step's record part of the stage.
func (st *stage) apply(rec *cache.Record, key digest.Digest, history bool) error {
	if len(rec.Change) > 0 {
		var change ConfigChange
		if err := json.Unmarshal(rec.Change, &change); err != nil {
			return fmt.Errorf("cache record %s: %w", key, err)
		}
		change.apply(&st.img.Config)
		for _, kv := range change.Env {
			k, v, _ := strings.Cut(kv, "=")
			st.env = setEnv(st.env, k, v)
		}
		if change.Cmd != nil {
			st.cmdSet = true
		}
	}
	if l := rec.Layer; l != nil {
		st.img.Layers = append(st.img.Layers, image.Layer{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size, DiffID: l.DiffID})
	}
	if history {
		st.history(rec.CreatedBy, rec.Layer != nil, rec.Created)
	}
	st.key = key
	return nil
}
