package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/layerdiff"
	digest "github.com/opencontainers/go-digest"
)

// outputLayers are the layers of st as the image is written: the base
// image's as they are, the others in the compression and level asked
// for. A layer the cache holds in another form (a step cached by a build
// with other settings) is converted once; the conversion is a cache entry
// of its own, kept and pruned like a step. converted maps each replaced
// blob to its replacement.
func (b *builder) outputLayers(ctx context.Context, st *stage) (layers []layer.Layer, converted map[digest.Digest]layer.Layer, err error) {
	layers = slices.Clone(st.img.Layers)
	converted = map[digest.Digest]layer.Layer{}
	want := b.opts.Compression.OrDefault()
	for i := st.base; i < len(layers); i++ {
		l := layers[i]
		if l.Compression() == want {
			continue
		}
		if c, ok := converted[l.Digest]; ok {
			layers[i] = c
			continue
		}
		c, err := b.convertLayer(ctx, l, want)
		if err != nil {
			return nil, nil, fmt.Errorf("convert layer %s to %s: %w", l.DiffID, want.Algorithm, err)
		}
		converted[l.Digest], layers[i] = c, c
	}
	return layers, converted, nil
}

// convertLayer finds or makes the blob of layer l in compression c.
func (b *builder) convertLayer(ctx context.Context, l layer.Layer, c layer.Compression) (layer.Layer, error) {
	return b.convertFrom(ctx, l, c, func() (io.ReadCloser, error) {
		r, _, err := b.opts.Store.OpenBlob(l.Digest)
		return r, err
	})
}

// convertFrom is convertLayer reading the blob of l from open, which may
// be elsewhere than in the store.
func (b *builder) convertFrom(ctx context.Context, l layer.Layer, c layer.Compression, open func() (io.ReadCloser, error)) (layer.Layer, error) {
	store := b.opts.Store
	key := convertKey(l.DiffID, c)
	rec, err := store.Step(key)
	if errors.Is(err, cache.ErrNotFound) {
		rec, err = b.recompress(ctx, key, l, c, open)
	} else if err == nil {
		store.Used(rec)
	}
	if err != nil {
		return layer.Layer{}, err
	}
	if rec.Layer == nil {
		return layer.Layer{}, fmt.Errorf("conversion record %s has no layer", key)
	}
	return *rec.Layer, nil
}

// recompress converts the blob under the key's lock, so that builds doing
// the same conversion at once do it once.
func (b *builder) recompress(ctx context.Context, key digest.Digest, l layer.Layer, c layer.Compression, open func() (io.ReadCloser, error)) (*cache.Record, error) {
	store := b.opts.Store
	rec, _, err := store.MakeStep(ctx, key, false, func() (*cache.Record, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		r, work := b.compressing(rc, l, c)
		w, err := store.NewBlobWriter()
		if err != nil {
			return nil, err
		}
		defer w.Abort()
		out, err := layerdiff.Recompress(ctx, w, r, l.MediaType, l.DiffID, layerdiff.WithCompression(c))
		if err != nil {
			return nil, err
		}
		if err := w.Commit(out.Digest); err != nil {
			return nil, err
		}
		work.done()
		return &cache.Record{
			Key:       key,
			CreatedBy: fmt.Sprintf("convert layer %s to %s", l.DiffID, c.Algorithm),
			Created:   b.opts.Now().UTC(),
			Layer:     &out,
		}, nil
	})
	return rec, err
}

// convertKey is the key of the record of the layer diffID in compression
// c, made by a conversion (convertFrom) or noted as made (noteCompressed).
func convertKey(diffID digest.Digest, c layer.Compression) digest.Digest {
	return cache.NewKey("convert").
		String("diff_id", diffID.String()).
		String("compression", string(c.Algorithm)).
		String("level", strconv.Itoa(c.Level)).
		Sum()
}

// noteCompressed records l, a layer a multi-platform build compressed as
// it wrote it (for every platform it fits, see shareLayer), as its
// diffID's layer in its compression: another platform that makes the
// same layer after all then takes it (diffOnce) rather than compress it
// again. A failure only costs that compression.
func (b *builder) noteCompressed(ctx context.Context, l layer.Layer) {
	key := convertKey(l.DiffID, b.opts.Compression.OrDefault())
	// MakeStep keeps a record already there; for a layer just made there
	// is as a rule none, so no lookup before it.
	_, _, _ = b.opts.Store.MakeStep(ctx, key, false, func() (*cache.Record, error) {
		return &cache.Record{
			Key:       key,
			CreatedBy: fmt.Sprintf("layer %s in %s", l.DiffID, l.Compression().Algorithm),
			Created:   b.opts.Now().UTC(),
			Layer:     &l,
		}, nil
	})
}
