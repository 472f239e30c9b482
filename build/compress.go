package build

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layerdiff"
	digest "github.com/opencontainers/go-digest"
)

// compression is the compression of the layers the build makes.
func (b *builder) compression() layerdiff.Compression {
	if b.opts.Compression == "" {
		return layerdiff.Gzip
	}
	return b.opts.Compression
}

// noteLevel remembers the compression level of a layer blob a step
// record gives, to tell at the end whether the blob is the one asked for.
func (b *builder) noteLevel(l *cache.LayerRecord) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.levels == nil {
		b.levels = map[digest.Digest]int{}
	}
	b.levels[l.Digest] = l.Level
}

// outputLayers are the layers of st as the image is written: the base
// image's as they are, the others in the compression and level asked
// for. A layer the cache holds in another form (a step cached by a build
// with other settings) is converted once; the conversion is a cache entry
// of its own, kept and pruned like a step. converted maps each replaced
// blob to its replacement.
func (b *builder) outputLayers(ctx context.Context, st *stage) (layers []image.Layer, converted map[digest.Digest]image.Layer, err error) {
	layers = append([]image.Layer(nil), st.img.Layers...)
	converted = map[digest.Digest]image.Layer{}
	want, level := b.compression(), b.opts.CompressionLevel
	for i := st.base; i < len(layers); i++ {
		l := layers[i]
		b.mu.Lock()
		have, known := b.levels[l.Digest]
		b.mu.Unlock()
		if known && have == level && layerdiff.CompressionOf(l.MediaType) == want {
			continue
		}
		if c, ok := converted[l.Digest]; ok {
			layers[i] = c
			continue
		}
		c, err := b.convertLayer(ctx, l, want, level)
		if err != nil {
			return nil, nil, fmt.Errorf("convert layer %s to %s: %w", l.DiffID, want, err)
		}
		converted[l.Digest], layers[i] = c, c
	}
	return layers, converted, nil
}

// convertLayer finds or makes the blob of layer l in compression c at
// level.
func (b *builder) convertLayer(ctx context.Context, l image.Layer, c layerdiff.Compression, level int) (image.Layer, error) {
	store := b.opts.Store
	key := cache.NewKey("convert").
		String("diff_id", l.DiffID.String()).
		String("compression", string(c)).
		String("level", strconv.Itoa(level)).
		Sum()
	rec, err := store.Step(key)
	if errors.Is(err, cache.ErrNotFound) {
		rec, err = b.recompress(ctx, key, l, c, level)
	} else if err == nil {
		store.Touch(key)
	}
	if err != nil {
		return image.Layer{}, err
	}
	return image.Layer{MediaType: rec.Layer.MediaType, Digest: rec.Layer.Digest, Size: rec.Layer.Size, DiffID: rec.Layer.DiffID}, nil
}

// recompress converts the blob under the key's lock, so that builds doing
// the same conversion at once do it once.
func (b *builder) recompress(ctx context.Context, key digest.Digest, l image.Layer, c layerdiff.Compression, level int) (*cache.Record, error) {
	store := b.opts.Store
	unlock, err := store.LockStep(ctx, key)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if rec, err := store.Step(key); err == nil {
		return rec, nil
	}
	r, _, err := store.OpenBlob(l.Digest)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	w, err := store.NewBlobWriter()
	if err != nil {
		return nil, err
	}
	defer w.Abort()
	blob, err := layerdiff.Recompress(ctx, w, r, l.MediaType, l.DiffID, layerdiff.WithCompression(c, level))
	if err != nil {
		return nil, err
	}
	if err := w.Commit(blob.Digest); err != nil {
		return nil, err
	}
	rec := &cache.Record{
		Key:       key,
		CreatedBy: fmt.Sprintf("convert layer %s to %s", l.DiffID, c),
		Created:   b.opts.Now().UTC(),
		Layer:     &cache.LayerRecord{MediaType: blob.MediaType, Digest: blob.Digest, DiffID: blob.DiffID, Size: blob.Size, Level: level},
	}
	if err := store.PutStep(rec); err != nil {
		return nil, err
	}
	return rec, nil
}
