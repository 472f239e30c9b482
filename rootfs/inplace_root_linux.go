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

// inPlaceRoot is the tree of an InPlace driver, holding lower. A RUN step
// changes the tree itself, and snap is what the tree held when it began.
// A COPY, ADD or WORKDIR writes into staged instead (once Files said so),
// an upper dir over the tree, as with the overlay driver: its layer is
// applied to the tree once committed, and writing where the tree is left
// alone is an error.
type inPlaceRoot struct {
	d         *InPlace
	lower     []layer.Layer
	snap      *snapshot
	staged    string
	files     bool
	committed bool
	// onTree says the tree holds lower: a root on no layers leaves it
	// alone until a RUN.
	onTree bool
}

// Files is an upper dir of the store over the tree, or over nothing for
// a root on no layers.
func (r *inPlaceRoot) Files() (string, *overlay.Stack) {
	r.files = true
	return r.staged, r.below()
}

// below is what the staged files lie on.
func (r *inPlaceRoot) below() *overlay.Stack {
	if !r.onTree {
		return overlay.NewStack()
	}
	return overlay.NewStack(r.d.root)
}

// Run runs the step in the tree. Its mounts are emulated: their content
// is put in place before, and what was there is put back after (see
// placeMounts); the diff leaves their targets out.
func (r *inPlaceRoot) Run(ctx context.Context, p sandbox.Process) error {
	if r.snap != nil || r.files {
		return errors.New("in place: one step per root")
	}
	defer withStepUmask()()
	if !r.onTree {
		if err := r.d.hold(ctx, r.lower); err != nil {
			return err
		}
		r.onTree = true
	}
	snap, err := takeSnapshot(ctx, r.d.root, r.d.keep)
	if err != nil {
		r.d.forget()
		return err
	}
	r.snap = snap
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

// Diff is the layer of what the step changed: in the tree since the
// snapshot, for a RUN; the staged upper dir, for the others.
func (r *inPlaceRoot) Diff(ctx context.Context, w io.Writer, opts ...layerdiff.Option) (layer.Layer, error) {
	if r.files {
		if err := r.checkStaged(ctx); err != nil {
			return layer.Layer{}, err
		}
		return layerdiff.WriteBlob(ctx, w, r.staged, r.below(), opts...)
	}
	if r.snap == nil {
		return layerdiff.WriteChangesBlob(ctx, w, func(func(layerdiff.Change) error) error { return nil }, opts...)
	}
	return layerdiff.WriteChangesBlob(ctx, w, func(fn func(layerdiff.Change) error) error {
		return r.snap.changes(ctx, fn)
	}, opts...)
}

// checkStaged fails when the staged files reach a path the tree leaves
// alone: they would never be in the tree, nor in a later step's view.
func (r *inPlaceRoot) checkStaged(ctx context.Context) error {
	return layerdiff.Changes(ctx, r.staged, r.below(), func(c layerdiff.Change) error {
		if r.d.keep.has(c.Path) {
			return fmt.Errorf("%s is left alone by the in-place mode (mybuild's own files, its cache, the context, an output, /proc, /sys, /dev or a mount point): nothing may be written there", c.Path)
		}
		return nil
	})
}

// Commit records that the tree now holds lower and l; staged files are
// put in the tree (see place).
func (r *inPlaceRoot) Commit(l layer.Layer) (Layer, error) {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	r.committed = true
	if !r.onTree {
		// The tree still holds what it held.
		return Layer{Blob: l}, nil
	}
	if r.files {
		if err := r.d.place(r.staged, l); err != nil {
			r.d.known = false
			return Layer{}, err
		}
	}
	r.d.applied = append(append([]layer.Layer(nil), r.lower...), l)
	r.d.known = true
	return Layer{Blob: l}, nil
}

// Close removes the staged files. A tree that holds a step's changes but
// no committed layer is reset before the next step.
func (r *inPlaceRoot) Close() error {
	os.RemoveAll(r.staged)
	if !r.committed && r.snap != nil {
		r.d.forget()
	}
	return nil
}
