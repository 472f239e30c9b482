package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/internal/readprogress"
	"github.com/mybuild/mybuild/layer"
)

// repoBlobs fetches the blobs of one repository, reporting progress under
// ref.
type repoBlobs struct {
	puller *remote.Puller
	repo   name.Repository
	ref    string
	o      *options
}

func (p *puller) blobs() repoBlobs {
	return repoBlobs{puller: p.remote, repo: p.ref.Context(), ref: p.canon, o: p.o}
}

// fetchLayers stores the layer blobs the store lacks, jobs at a time.
// Each blob is checked against its digest twice: by ggcr while it is
// read, and by the store before it is renamed into place, so an
// interrupted or damaged download leaves nothing behind.
func (p *puller) fetchLayers(ctx context.Context, layers []layer.Layer) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	blobs := p.blobs()
	seen := map[digest.Digest]bool{}
	for _, l := range layers {
		if seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		// Checked here, so that a blob already there takes no job and
		// is reported in layer order.
		if blobs.stored(p.store, l.Digest, l.Size) {
			continue
		}
		g.Go(func() error {
			return layerError(l.Digest, blobs.fetch(ctx, p.store, l.Digest, l.Size))
		})
	}
	return g.Wait()
}

// stored reports whether store has blob d, with a Skipped event if so.
func (b repoBlobs) stored(store image.Store, d digest.Digest, size int64) bool {
	if !store.HasBlob(d, size) {
		return false
	}
	b.o.report(Progress{Ref: b.ref, Digest: d, Done: size, Total: size, Skipped: true})
	return true
}

// blobLocker is a store that serialises the making of each blob: the
// cache (cache.Store.LockBlob).
type blobLocker interface {
	LockBlob(ctx context.Context, d digest.Digest) (unlock func(), err error)
}

var _ blobLocker = (*cache.Store)(nil)

// fetch downloads blob d, of size bytes, into store, which checks it. In
// a store that locks its blobs, it does so under d's lock, and a blob
// stored meanwhile, by whoever held the lock (the builder of another
// platform loading the same base, another build), is not downloaded
// again: two fetches of one blob at the same moment make one download.
func (b repoBlobs) fetch(ctx context.Context, store image.Store, d digest.Digest, size int64) error {
	if bl, ok := store.(blobLocker); ok {
		unlock, err := bl.LockBlob(ctx, d)
		if err != nil {
			return err
		}
		defer unlock()
		if b.stored(store, d, size) {
			return nil
		}
	}
	rl, err := b.puller.Layer(ctx, b.repo.Digest(d.String()))
	if err != nil {
		return err
	}
	rc, err := rl.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	last := int64(-1)
	report := func(done int64) {
		last = done
		b.o.report(Progress{Ref: b.ref, Digest: d, Done: done, Total: size})
	}
	if err := store.PutBlob(d, size, readprogress.New(rc, report)); err != nil {
		return err
	}
	if last != size { // stored meanwhile: nothing was read
		report(size)
	}
	return nil
}

// read reads blob d, a small document that what names in errors, into
// memory: at most limit bytes, exactly size unless size < 0, and checked
// against d.
func (b repoBlobs) read(ctx context.Context, what string, d digest.Digest, size, limit int64) ([]byte, error) {
	rl, err := b.puller.Layer(ctx, b.repo.Digest(d.String()))
	if err != nil {
		return nil, err
	}
	rc, err := rl.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, d, err)
	}
	switch n := int64(len(data)); {
	case n > limit:
		return nil, fail(nil, "%s %s is larger than %d bytes", what, d, limit)
	case size >= 0 && n != size:
		return nil, fail(nil, "%s %s is %d bytes, the manifest says %d", what, d, n, size)
	}
	if got := digest.FromBytes(data); got != d {
		return nil, fail(nil, "%s %s has digest %s", what, d, got)
	}
	return data, nil
}

// layerError puts the layer in front of err. ggcr's verifying reader
// says "error verifying sha256 checksum after reading N bytes; got X,
// want Y"; that becomes one short line.
func layerError(d digest.Digest, err error) error {
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "error verifying"), errors.Is(err, cache.ErrCorrupt):
		return fail(cache.ErrCorrupt, "layer %s: the registry sent bytes that do not match the digest", d)
	}
	return fmt.Errorf("layer %s: %w", d, err)
}
