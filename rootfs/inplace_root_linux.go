package rootfs

import (
	"context"
	"io"

	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/sandbox"
)

// inPlaceRoot is the tree of an InPlace driver, holding lower, and what it
// held when the step began.
type inPlaceRoot struct {
	d         *InPlace
	lower     []layer.Layer
	snap      *snapshot
	committed bool
}

// Files is the tree itself: nothing lies below it.
func (r *inPlaceRoot) Files() (string, *overlay.Stack) { return r.d.root, overlay.NewStack() }

func (r *inPlaceRoot) Run(ctx context.Context, p sandbox.Process) error {
	return runInPlace(ctx, r.d.root, r.d.keep, p)
}

// Diff compares the tree with the snapshot the step began with.
func (r *inPlaceRoot) Diff(ctx context.Context, w io.Writer, opts ...layerdiff.Option) (layer.Layer, error) {
	return layerdiff.WriteChangesBlob(ctx, w, func(fn func(layerdiff.Change) error) error {
		return r.snap.changes(ctx, fn)
	}, opts...)
}

// Commit records that the tree now holds lower and l.
func (r *inPlaceRoot) Commit(l layer.Layer) (Layer, error) {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	r.d.applied = append(append([]layer.Layer(nil), r.lower...), l)
	r.d.known = true
	r.committed = true
	return Layer{Blob: l}, nil
}

// Close leaves the tree as it is; one that holds a step's changes but no
// committed layer is reset before the next step.
func (r *inPlaceRoot) Close() error {
	if !r.committed {
		r.d.mu.Lock()
		r.d.known = false
		r.d.mu.Unlock()
	}
	return nil
}
