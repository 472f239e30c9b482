package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/rootfs"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/layerdiff"
	digest "github.com/opencontainers/go-digest"
)

// plan is one instruction, expanded and ready to be keyed and run.
type plan struct {
	kind      string
	createdBy string
	change    *ConfigChange
	// inputs is what the result depends on beyond the parent key; nil for
	// nothing more.
	inputs keyInputs
	// layer makes the step's changes; nil for steps that only change the
	// config.
	layer layerMaker
	// args, for an ARG, are the stage's environment and build args after
	// it, set on a cache hit as on a miss.
	args *stageArgs
	// noHistory leaves the step out of the image history, as BuildKit
	// does for ONBUILD.
	noHistory bool
	// downloads are ADD's files that planning fetched, removed once the
	// step is done, hit or miss.
	downloads []*remoteFile
	// repos are ADD's git checkouts, removed once the step is done.
	repos []*gitRepo
	// link is COPY or ADD --link: the layer is made on an empty root, and
	// keyed without the parent, so a changed base reuses it.
	link bool
}

// keyInputs adds what a step's result depends on to its key.
type keyInputs interface {
	addTo(k *cache.KeyBuilder)
}

// layerMaker makes a step's changes in the root of a new layer.
type layerMaker interface {
	makeLayer(ctx context.Context, root rootfs.Root, info StepInfo) error
}

// stageArgs are a stage's environment and declared build args.
type stageArgs struct {
	env      []string
	declared []instructions.KeyValuePairOptional
}

// key is the step's cache key, and the digests of its fields (see
// cache.KeyBuilder.Fields). A step that makes a layer keys on the source
// date epoch too, which changes the layer's file times. A linked layer
// depends on nothing below it, and its key not on the parent.
func (p *plan) key(parent digest.Digest, epoch *time.Time) (digest.Digest, map[string]digest.Digest) {
	k := cache.NewKey(p.kind)
	if p.link {
		k.String("link", "true")
	} else {
		k.String("parent", parent.String())
	}
	k.String("created_by", p.createdBy)
	if p.inputs != nil {
		p.inputs.addTo(k)
	}
	if epoch != nil && p.layer != nil {
		k.String("source_date_epoch", strconv.FormatInt(epoch.Unix(), 10))
	}
	return k.Sum(), k.Fields()
}

// chainKey is the stage's key once the step with key is applied on
// parent: that key, or for a linked layer its key on top of the parent's,
// as BuildKit merges a linked copy onto the stage. The steps after it key
// on both.
func (p *plan) chainKey(parent, key digest.Digest) digest.Digest {
	if !p.link {
		return key
	}
	return cache.NewKey("link").String("parent", parent.String()).String("layer", key.String()).Sum()
}

func (b *builder) runStep(ctx context.Context, st *stage, info StepInfo, prepare func() (*plan, error), res *StepResult) error {
	p, err := prepare()
	if err != nil {
		return err
	}
	defer removeDownloads(p.downloads)
	defer removeRepos(p.repos)
	key, fields := p.key(st.key, b.epoch)
	res.Key = key
	rec, source, err := b.lookup(ctx, key)
	if err != nil {
		return err
	}
	if rec == nil {
		if rec, source, err = b.miss(ctx, st, p, key, fields, info, res); err != nil {
			return err
		}
	}
	res.Cached, res.CacheSource = source != "", source
	st.missed(info, source == "")
	if rec.Layer != nil {
		l := *rec.Layer
		res.Layer = &l
		b.checkAhead(ctx, l, source)
	}
	var created *time.Time
	if !p.noHistory {
		created = &rec.Created
		if b.epoch != nil {
			created = b.epoch
		}
	}
	if err := st.apply(rec, p.chainKey(st.key, key), created); err != nil {
		return err
	}
	if p.args != nil {
		st.env = p.args.env
		st.buildArgs = append(st.buildArgs, p.args.declared...)
	}
	return nil
}

// miss explains why a step missed, then runs it and stores its record
// with its inputs; with Options.Explain it only makes the record the
// step would have, with no layer.
func (b *builder) miss(ctx context.Context, st *stage, p *plan, key digest.Digest, fields map[string]digest.Digest,
	info StepInfo, res *StepResult) (*cache.Record, string, error) {
	if p.layer != nil && b.opts.NoLayers {
		return nil, "", ErrLayerNeeded // the build in the namespace explains it
	}
	if st.onMiss != nil {
		st.onMiss()
	}
	if r, ok := p.layer.(*runStep); ok && !b.opts.Explain {
		r.startAhead()
	}
	in := b.inputs(st, info, p, fields)
	res.Miss = b.explainMiss(ctx, st, in)
	if mr, ok := b.rep.(missReporter); ok {
		mr.StepMissed(info, *res.Miss)
	}
	if b.opts.Explain {
		rec := &cache.Record{Key: key, CreatedBy: p.createdBy}
		if p.change != nil {
			var err error
			if rec.Change, err = json.Marshal(p.change); err != nil {
				return nil, "", err
			}
		}
		return rec, "", nil
	}
	ctx = b.withReusable(ctx, p, res.Miss, in)
	rec, source, err := b.execute(ctx, st, p, key, info, in, res)
	if source != "" {
		res.Miss = nil // another build made it meanwhile
	}
	return rec, source, err
}

// lookup finds a usable record, unless the cache is off: in the local
// cache, then in the shared one. A shared record is kept locally too,
// but with Options.Explain, which writes nothing and fetches no layer.
// source is "local" or "registry".
func (b *builder) lookup(ctx context.Context, key digest.Digest) (rec *cache.Record, source string, err error) {
	if b.opts.NoCache {
		return nil, "", nil
	}
	rec, err = b.opts.Store.Lookup(key)
	if err == nil {
		if !b.opts.Explain {
			b.opts.Store.Used(rec)
		}
		return rec, "local", nil
	}
	if !errors.Is(err, cache.ErrNotFound) {
		return nil, "", err
	}
	if rec = b.remoteLookup(ctx, key); rec == nil {
		return nil, "", nil
	}
	if b.opts.Explain {
		return rec, "registry", nil
	}
	if err := b.opts.Store.PutStep(rec); err != nil {
		return nil, "", err
	}
	return rec, "registry", nil
}

// remoteLookup asks the shared cache. Its trouble never fails a build: it
// is reported once, and the build goes on without it.
func (b *builder) remoteLookup(ctx context.Context, key digest.Digest) *cache.Record {
	repo := b.cacheRepo()
	if repo == nil {
		return nil
	}
	get := repo.Get
	if b.opts.Explain {
		get = func(ctx context.Context, key digest.Digest, _ image.Store) (*cache.Record, error) {
			return repo.Record(ctx, key)
		}
	}
	rec, err := get(ctx, key, b.opts.Store)
	switch {
	case err == nil:
		return rec
	case errors.Is(err, cache.ErrNotFound):
	default:
		b.dropCacheRepo(err)
	}
	return nil
}

// share pushes what a step made to the shared cache.
func (b *builder) share(ctx context.Context, rec *cache.Record) {
	if repo := b.cacheRepo(); repo != nil {
		if err := repo.Put(ctx, rec, b.opts.Store); err != nil && ctx.Err() == nil {
			b.dropCacheRepo(err)
		}
	}
}

func (b *builder) cacheRepo() *registry.CacheRepo {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.repoDropped {
		return nil
	}
	return b.opts.CacheRepo
}

func (b *builder) dropCacheRepo(err error) {
	b.mu.Lock()
	first := !b.repoDropped
	b.repoDropped = true
	b.mu.Unlock()
	if first {
		b.rep.Warning(fmt.Sprintf("shared cache %s: %v; going on without it", b.opts.CacheRepo.Repo(), err))
	}
}

// ErrLayerNeeded is the error of a step that must make a layer in a
// build with Options.NoLayers.
var ErrLayerNeeded = errors.New("a layer must be made, which this build may not")

// execute runs a step that missed and stores its record. Two builds that
// miss the same key at once do the work once: the second waits for the
// first's lock and then finds its record (source is then "local").
// res.LayerFrom says when the step took the layer another platform's
// step made.
func (b *builder) execute(ctx context.Context, st *stage, p *plan, key digest.Digest, info StepInfo, in *stepInputs, res *StepResult) (*cache.Record, string, error) {
	if p.layer != nil && b.opts.NoLayers {
		return nil, "", ErrLayerNeeded
	}
	rec, made, stored, err := b.opts.Store.MakeStepLater(ctx, key, b.opts.NoCache, func() (*cache.Record, error) {
		rec := &cache.Record{Key: key, CreatedBy: p.createdBy, Created: b.opts.Now().UTC(), Inputs: &in.Inputs}
		var err error
		if in.files != nil {
			if in.Files, err = b.opts.Store.PutFileList(in.files); err != nil {
				return nil, err
			}
		}
		if p.change != nil {
			if rec.Change, err = json.Marshal(p.change); err != nil {
				return nil, err
			}
		}
		if p.layer != nil {
			if rec.Layer, res.LayerFrom, err = b.makeLayer(ctx, st, p, info); err != nil {
				return nil, err
			}
		}
		return rec, nil
	})
	if err != nil {
		return nil, "", err
	}
	if st.storeLater {
		b.storeLater(stored)
	} else if err := stored(); err != nil {
		return nil, "", err
	}
	if !made {
		return rec, "local", nil
	}
	b.share(ctx, rec)
	b.shareLatest(ctx, in, rec)
	return rec, "", nil
}

// writeLayer runs the step on a root of the stage's layers, writes what
// it changed as a layer blob, and keeps that unpacked for the next steps.
func (b *builder) writeLayer(ctx context.Context, st *stage, p *plan, info StepInfo) (_ *layer.Layer, err error) {
	if b.driver.Features().Exclusive {
		b.exclusive.Lock()
		defer b.exclusive.Unlock()
	}
	var lower []rootfs.Layer
	if !p.link { // a linked layer is made on an empty root
		if l, made, err := b.writeBeforeBase(ctx, st, p, info); made || err != nil {
			return l, err
		}
		if lower, err = b.lower(ctx, st); err != nil {
			return nil, err
		}
	}
	root, err := b.driver.Root(ctx, lower)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := root.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := p.layer.makeLayer(ctx, root, info); err != nil {
		return nil, err
	}
	if b.platformLabel != "" && !writesForAll(ctx) {
		return b.diffOnce(ctx, root)
	}
	l, err := b.diff(ctx, root, b.opts.Compression)
	if err != nil {
		return nil, err
	}
	if b.platformLabel != "" {
		b.noteCompressed(ctx, l)
	}
	return &l, nil
}

// diff writes what changed in root as a layer blob in compression c,
// into the store, and keeps it unpacked for the next steps.
func (b *builder) diff(ctx context.Context, root rootfs.Root, c layer.Compression) (layer.Layer, error) {
	l, err := b.writeBlob(ctx, root, c)
	if err != nil {
		return layer.Layer{}, err
	}
	if _, err := root.Commit(l); err != nil {
		return layer.Layer{}, err
	}
	return l, nil
}

// writeBlob writes what changed in root as a layer blob in compression
// c, into the store; Commit keeps it unpacked.
func (b *builder) writeBlob(ctx context.Context, root rootfs.Root, c layer.Compression) (l layer.Layer, err error) {
	store := b.opts.Store
	w, err := store.NewBlobWriter()
	if err != nil {
		return layer.Layer{}, err
	}
	defer w.Abort()
	var members []layerdiff.Member
	opts := []layerdiff.Option{layerdiff.WithCompression(c), layerdiff.WithMembers(func(ms []layerdiff.Member) { members = ms })}
	if b.epoch != nil {
		opts = append(opts, layerdiff.WithSourceDateEpoch(*b.epoch))
	}
	if prev, done := b.previousOption(ctx, c); prev != nil {
		defer done()
		opts = append(opts, prev)
	}
	if l, err = root.Diff(ctx, w, opts...); err != nil {
		return layer.Layer{}, fmt.Errorf("write layer: %w", err)
	}
	// Flushed with the step's record (cache.Store.PutStep), not before.
	if err := w.CommitUnflushed(l.Digest); err != nil {
		return layer.Layer{}, err
	}
	if len(members) > 1 {
		// A hint for the next build of an edited COPY: without it, that
		// build compresses every member again. A layer of one member has
		// nothing to share with an edited one.
		if table, err := layerdiff.MarshalMembers(c, members); err == nil {
			_ = store.PutMembers(l.Digest, table)
		}
	}
	return l, nil
}

// diffOnce is diff for a multi-platform build, where the same step of
// several platforms often makes the same layer under different keys (they
// chain from each platform's FROM): the layer tar is written to a scratch
// file first, which gives its diffID, and then compressed into the store
// once per diffID, under the lock of that conversion (see convertLayer),
// however many platforms made it.
func (b *builder) diffOnce(ctx context.Context, root rootfs.Root) (_ *layer.Layer, err error) {
	want := b.opts.Compression.OrDefault()
	if want.Algorithm == layer.Uncompressed {
		l, err := b.diff(ctx, root, want)
		return &l, err
	}
	f, err := b.opts.Store.ScratchFile()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var opts []layerdiff.Option
	if b.epoch != nil {
		opts = append(opts, layerdiff.WithSourceDateEpoch(*b.epoch))
	}
	raw, err := root.Diff(ctx, f, append(opts, layerdiff.WithCompression(layer.Compression{Algorithm: layer.Uncompressed}))...)
	if err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	c, err := b.convertFrom(ctx, raw, want, func() (io.ReadCloser, error) {
		_, err := f.Seek(0, io.SeekStart)
		return io.NopCloser(f), err
	})
	if err != nil {
		return nil, fmt.Errorf("compress layer %s: %w", raw.DiffID, err)
	}
	if _, err := root.Commit(c); err != nil {
		return nil, err
	}
	return &c, nil
}

// apply makes a step's record part of the stage. created is the time of
// its history entry; nil leaves it out of the history.
func (st *stage) apply(rec *cache.Record, key digest.Digest, created *time.Time) error {
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
	if rec.Layer != nil {
		st.img.Layers = append(st.img.Layers, *rec.Layer)
	}
	if created != nil {
		st.history(rec.CreatedBy, rec.Layer != nil, *created)
	}
	st.key = key
	return nil
}

// checkAheadMax is the largest layer blob checkAhead has checked: a seal
// check reads every entry's stat, and a large layer's would cost a build
// that misses nothing, which needs no layer unpacked, more than what it
// saves one that misses.
const checkAheadMax = 1 << 20

// checkAhead has the driver check the unpacked layer of a step found in
// the local cache while the build looks up the next steps (see
// rootfs.AheadChecker): a step that misses later needs every layer
// before it checked, and would otherwise check them all then. A build
// that makes no layer needs none.
func (b *builder) checkAhead(ctx context.Context, l layer.Layer, source string) {
	if source != "local" || b.opts.NoLayers || b.opts.Explain || l.Size > checkAheadMax {
		return
	}
	if c, ok := b.driver.(rootfs.AheadChecker); ok {
		c.CheckAhead(ctx, l)
	}
}
