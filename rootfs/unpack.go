package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"
)

// Unpacker extracts layer blobs of a store into the store's unpacked
// layers. It is safe for concurrent use: callers that want one layer at
// the same time share a single extraction, and other processes sharing the
// store are kept apart by its rename-into-place commit.
type Unpacker struct {
	store   *cache.Store
	unpacks singleflight.Group
	// skipDevices leaves device nodes out (see Rootless), and warn says
	// so once.
	skipDevices bool
	warn        func(string)
	warned      sync.Once
	// checked holds the diffIDs of the layers checked against their seal
	// (or sealed) by this Unpacker: each is checked once per build, by
	// one caller at a time (checks).
	checked sync.Map
	checks  singleflight.Group
	// ahead are the checks CheckAhead left running, which Settle waits
	// for.
	ahead sync.WaitGroup
	// sealing are the flushes and seals of the layers it unpacked, left
	// running (cache.Store.CommitLayerLater) until Settle.
	mu      sync.Mutex
	sealing []func() error
}

// NewUnpacker returns an Unpacker for the layers of store, whose blobs
// must be in it (transport.Load puts them there).
func NewUnpacker(store *cache.Store) *Unpacker {
	return &Unpacker{store: store}
}

// Lower returns the unpacked dirs of layers, an image's layers oldest
// first as in its config, newest first: ready to be overlay lower dirs.
// Layers not yet unpacked are extracted, each one once.
func (u *Unpacker) Lower(ctx context.Context, layers []layer.Layer) ([]string, error) {
	dirs := make([]string, 0, len(layers))
	for _, l := range layers {
		dir, err := u.Unpack(ctx, l, dirs)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, dir)
	}
	slices.Reverse(dirs)
	return dirs, nil
}

// Unpack returns the unpacked dir of layer l, extracting its blob the
// first time; below are the dirs of the layers under it, oldest first, for
// hard links into them and the metadata of parent directories the layer
// does not list. The extraction checks the diffID, so a layer dir only
// ever holds what the image says.
//
// A layer is unpacked once per diffID: a hard link to a file of a lower
// layer is copied in from the layers below it the first time, which for
// the same diffID on another base could differ (a tar with such a link is
// rare outside of builds that made it).
func (u *Unpacker) Unpack(ctx context.Context, l layer.Layer, below []string) (string, error) {
	// Callers that want the same layer at once share one extraction.
	dir, err, _ := u.unpacks.Do(l.DiffID.String(), func() (any, error) {
		return u.unpackOnce(ctx, l, below)
	})
	if err != nil {
		return "", err
	}
	return dir.(string), nil
}

func (u *Unpacker) unpackOnce(ctx context.Context, l layer.Layer, below []string) (string, error) {
	if u.store.HasLayer(l.DiffID) {
		ok, err := u.check(ctx, l.DiffID)
		if err != nil {
			return "", err
		}
		if ok {
			if u.skipDevices {
				u.warnSkipped(l)
			}
			return u.store.LayerPath(l.DiffID), nil
		}
	}
	r, _, err := u.store.OpenBlob(l.Digest)
	if err != nil {
		return "", fmt.Errorf("unpack layer %s: %w", l.DiffID, err)
	}
	defer r.Close()
	dir, err := u.store.TempDir("unpack-")
	if err != nil {
		return "", err
	}
	// A layer without an entry for "/" leaves the root as image tools
	// create it.
	if err := fswrite.Apply(dir, fswrite.Meta{Mode: fs.ModeDir | 0o755}); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	parents := slices.Clone(below)
	slices.Reverse(parents)
	known := map[uint64]cache.KnownContent{}
	opts := []layerdiff.ExtractOption{layerdiff.WithParents(overlay.NewStack(parents...)),
		layerdiff.ExtractingDigests(func(d layerdiff.ContentDigest) {
			known[d.Ino] = cache.KnownContent{Ino: d.Ino, Size: d.Size, Mtime: d.Mtime, Ctime: d.Ctime, Digest: d.Digest}
		})}
	var skipped []string
	if u.skipDevices {
		opts = append(opts, layerdiff.SkippingDevices(func(p string) { skipped = append(skipped, p) }))
	}
	err = layerdiff.ExtractBlob(ctx, withReadProgress(ctx, r), l.MediaType, l.DiffID, dir, opts...)
	if err == nil && len(skipped) > 0 {
		err = u.recordSkipped(l, skipped)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("unpack layer %s: %w", l.DiffID, err)
	}
	// The files were written by this extraction, in a scratch dir of this
	// build's own: none changed in the tick after it wrote it. The layer
	// is flushed and sealed while the build goes on with it: the flush
	// waits on the disk, a COPY on it waits on the CPU.
	path, sealed, err := u.store.CommitLayerLater(dir, l.DiffID, cache.WithKnownContent(known, math.MaxInt64))
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	u.sealLater(sealed)
	u.checked.Store(l.DiffID, true)
	if len(skipped) > 0 {
		u.warnSkipped(l)
	}
	return path, nil
}

// check checks the unpacked layer id (a diffID; for the in-place
// driver, the chain ID of a view) against its seal, the first time this
// Unpacker is asked for it (see cache.Store.CheckLayer). ok is false when
// the layer was damaged, or had no seal, and is gone: the caller unpacks
// it again from its blob. Damage is reported through the warnings.
func (u *Unpacker) check(ctx context.Context, id digest.Digest) (ok bool, err error) {
	if _, done := u.checked.Load(id); done {
		return true, nil
	}
	res, err, _ := u.checks.Do(id.String(), func() (any, error) { return u.checkOnce(ctx, id) })
	return res.(bool), err
}

func (u *Unpacker) checkOnce(ctx context.Context, id digest.Digest) (ok bool, err error) {
	if _, done := u.checked.Load(id); done {
		return true, nil
	}
	err = u.store.CheckLayer(ctx, id)
	switch {
	case err == nil:
		u.checked.Store(id, true)
		return true, nil
	case errors.Is(err, cache.ErrCorrupt):
		if u.warn != nil {
			u.warn(fmt.Sprintf("%v; unpacking it again from its blob", err))
		}
		return false, nil
	case errors.Is(err, cache.ErrUnsealed), errors.Is(err, fs.ErrNotExist):
		// Unpacked by a mybuild older than seals, or removed meanwhile.
		return false, nil
	}
	return false, err
}

// CheckAhead checks layer id against its seal in the background, when it
// is unpacked already, so that the step that first needs it unpacked
// finds it checked: a build calls it for the layers of the steps it
// finds in the cache, while it looks up the next. A layer found damaged
// is left for that step to unpack again (check has removed it). Settle
// waits for the checks.
func (u *Unpacker) CheckAhead(ctx context.Context, id digest.Digest) {
	if _, done := u.checked.Load(id); done || !u.store.HasLayer(id) {
		return
	}
	u.ahead.Add(1)
	go func() {
		defer u.ahead.Done()
		_, _ = u.check(ctx, id)
	}()
}

// Settle waits for the flushes and seals of the layers unpacked so far,
// and returns the first error among them: a layer whose seal failed is
// left without one, and unpacked again by the next build that wants it.
func (u *Unpacker) Settle() error {
	u.ahead.Wait()
	u.mu.Lock()
	sealing := u.sealing
	u.sealing = nil
	u.mu.Unlock()
	var first error
	for _, sealed := range sealing {
		if err := sealed(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sealLater adds the flush and seal of a layer, left running, to what
// Settle waits for.
func (u *Unpacker) sealLater(sealed func() error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sealing = append(u.sealing, sealed)
}

// MarkChecked records that the unpacked layer diffID needs no check in
// this build: it was just made.
func (u *Unpacker) MarkChecked(diffID digest.Digest) { u.checked.Store(diffID, true) }

// Repair unpacks the layer diffID again from its blob, on the layers a
// step record says lie below it (cache.Store.LayerChain), unpacking them
// too where they are missing: what cache verify --repair does with a
// damaged layer it removed. It returns cache.ErrNotFound when no record
// gives the chain.
func (u *Unpacker) Repair(ctx context.Context, diffID digest.Digest) error {
	chain, ok, err := u.store.LayerChain(diffID)
	if err != nil {
		return err
	}
	if !ok {
		return cache.ErrNotFound
	}
	_, err = u.Lower(ctx, chain)
	if serr := u.Settle(); err == nil {
		err = serr
	}
	return err
}
