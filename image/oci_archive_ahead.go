package image

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/layer"
)

// ErrNotAhead is Finish's error for an image that does not begin with the
// layers the archive was begun with: nothing is written, and the caller
// writes the archive the usual way.
var ErrNotAhead = errors.New("the image does not begin with the layers written ahead")

// errAbandoned ends the write of an archive that Abort dropped.
var errAbandoned = errors.New("archive abandoned")

// ArchiveAhead is an OCI archive begun before its image is known
// (StartOCIArchive): the layers the image will begin with (a base
// image's, and cached steps') are copied in while the build runs, and
// Finish writes the rest. The bytes are those WriteOCIArchive writes for
// the same image.
type ArchiveAhead struct {
	first  []layer.Layer
	finish chan aheadFinish
	once   sync.Once
	cancel context.CancelFunc // stops the copy of the first layers
	done   chan struct{}
	err    error // set before done is closed
}

// aheadFinish is what Finish hands the writer: the image and its
// manifest, with the ctx and the progress of the rest of the write; a
// zero one from Abort.
type aheadFinish struct {
	ctx      context.Context
	img      *Image
	m        *Manifest
	name     string
	progress func(int64)
}

// StartOCIArchive begins to replace the file at path, atomically, with
// the OCI archive of an image that begins with the layers first: they
// are copied in now, in the background, until ctx is done. Finish or
// Abort must follow.
func StartOCIArchive(ctx context.Context, path string, first []layer.Layer, store Store) *ArchiveAhead {
	a := &ArchiveAhead{first: slices.Clone(first), finish: make(chan aheadFinish, 1), done: make(chan struct{})}
	ctx, a.cancel = context.WithCancel(ctx)
	go func() {
		defer close(a.done)
		a.err = atomicfile.Write(path, func(w io.Writer) error {
			aw, err := newArchiveWriter(w, store, &written{})
			if err == nil {
				err = aw.layers(ctx, a.first)
			}
			if err == nil {
				// The disk writes the first layers while the build
				// runs: the sync at the end has the rest to wait for.
				err = atomicfile.StartWriteback(w)
			}
			if err != nil {
				return err
			}
			var f aheadFinish
			select {
			case f = <-a.finish:
			case <-ctx.Done():
				return ctx.Err()
			}
			if f.img == nil {
				return errAbandoned
			}
			aw.progress.fn = f.progress
			aw.progress.add(0)
			if err := aw.layers(f.ctx, f.img.Layers); err != nil {
				return err
			}
			blobs := []jsonBlob{{f.m.Config, f.m.ConfigJSON}, {f.m.Descriptor, f.m.ManifestJSON}}
			return aw.finish(blobs, namedDescriptor(f.m.Descriptor, orDefaultName(f.name)))
		})
	}()
	return a
}

// Finish writes the rest of the archive of img, named name (default
// DefaultName), and returns its manifest once the archive is in place.
// ctx's WithWriteProgress function is told of every blob byte written,
// those written ahead first. An image that does not begin with the
// layers written ahead gives ErrNotAhead, and no archive.
func (a *ArchiveAhead) Finish(ctx context.Context, img *Image, name string) (*Manifest, error) {
	m, err := img.Manifest()
	if err == nil && !startsWith(img.Layers, a.first) {
		err = ErrNotAhead
	}
	if err != nil {
		a.Abort()
		return nil, err
	}
	fn, _ := ctx.Value(writeProgressKey{}).(func(int64))
	sent := false
	a.once.Do(func() {
		a.finish <- aheadFinish{ctx: ctx, img: img, m: m, name: orDefaultName(name), progress: fn}
		sent = true
	})
	select {
	case <-a.done:
	case <-ctx.Done():
		a.cancel() // the first layers may still be being copied
		<-a.done
	}
	a.cancel()
	if !sent {
		return nil, errAbandoned
	}
	if a.err != nil {
		return nil, a.err
	}
	return m, nil
}

// Abort drops the archive: the file at path is left as it was. It waits
// for the writer to end, and does nothing after Finish.
func (a *ArchiveAhead) Abort() {
	a.once.Do(func() {
		a.finish <- aheadFinish{}
		a.cancel()
	})
	<-a.done
}

// startsWith reports whether ls begins with the blobs of first.
func startsWith(ls, first []layer.Layer) bool {
	if len(ls) < len(first) {
		return false
	}
	for i, l := range first {
		if ls[i].Digest != l.Digest {
			return false
		}
	}
	return true
}
