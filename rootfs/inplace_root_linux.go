package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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

// Run runs the step in the tree. Its mounts are emulated: their content
// is put in place before, and what was there is put back after (see
// placeMounts); the diff leaves their targets out.
func (r *inPlaceRoot) Run(ctx context.Context, p sandbox.Process) error {
	if len(p.Mounts) == 0 {
		return runInPlace(ctx, r.d.root, r.d.keep, p)
	}
	stashes, err := r.d.store.TempDir("mounts-")
	if err != nil {
		return err
	}
	pl, err := placeMounts(ctx, r.d.root, stashes, r.d.keep, p.Mounts)
	if err != nil {
		r.d.forget()
		os.RemoveAll(stashes)
		return &sandbox.SetupError{Msg: err.Error(), Err: err}
	}
	keys := pl.keys()
	p.Mounts = nil
	runErr := runInPlace(ctx, r.d.root, r.d.keep, p)
	r.snap.settle(pl.targets, pl.settle(keys))
	if err := pl.restore(); err != nil {
		// The tree no longer holds what the layers say; the stashes
		// stay, for whoever wants to look.
		r.d.forget()
		return errors.Join(runErr, fmt.Errorf("put the tree back after the step's mounts: %w", err))
	}
	os.RemoveAll(stashes)
	return runErr
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
		r.d.forget()
	}
	return nil
}
