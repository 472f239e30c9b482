package build

import (
	"context"
	"fmt"
	"os"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
)

// unpack returns the unpacked dir of layer l, extracting its blob the first
// time; lower are the dirs of the layers below it, oldest first, for hard
// links into them. The extraction checks the diffID, so a layer dir only
// ever holds what the image says.
func (b *builder) unpack(ctx context.Context, l image.Layer, lower []string) (string, error) {
	// Stages built at once from one base unpack its layers once.
	dir, err, _ := b.unpacks.Do(l.DiffID.String(), func() (any, error) {
		return b.unpackOnce(ctx, l, lower)
	})
	if err != nil {
		return "", err
	}
	return dir.(string), nil
}

func (b *builder) unpackOnce(ctx context.Context, l image.Layer, lower []string) (string, error) {
	store := b.opts.Store
	if store.HasLayer(l.DiffID) {
		return store.LayerPath(l.DiffID), nil
	}
	r, _, err := store.OpenBlob(l.Digest)
	if err != nil {
		return "", fmt.Errorf("unpack layer %s: %w", l.DiffID, err)
	}
	defer r.Close()
	dir, err := store.TempDir("unpack-")
	if err != nil {
		return "", err
	}
	// A layer without an entry for "/" leaves the root as image tools
	// create it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	below := make([]string, len(lower))
	for i, d := range lower {
		below[len(lower)-1-i] = d
	}
	err = layerdiff.ExtractBlob(ctx, r, l.MediaType, l.DiffID, dir, layerdiff.WithParents(overlay.NewStack(below...)))
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("unpack layer %s: %w", l.DiffID, err)
	}
	path, err := store.CommitLayer(dir, l.DiffID)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return path, nil
}

// newUpper makes an empty dir for a step's changes. Its root takes the
// mode, owner and times of the image's root, which an overlay shows as
// "/" while the step runs, and which the next steps see through it.
func (b *builder) newUpper(stack *overlay.Stack) (string, error) {
	dir, err := b.opts.Store.TempDir("layer-")
	if err != nil {
		return "", err
	}
	if err := copyRootMeta(stack, dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
