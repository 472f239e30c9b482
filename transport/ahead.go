package transport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
)

// Ahead is an oci-archive: output begun before its image is known
// (StartAhead): the layers the image will begin with (a base image's, and
// those of the cached steps after it) are written into it while the build
// runs, and Save, given it WithAhead, writes the rest.
type Ahead struct {
	ref     Ref
	tmp     string // the file beside ref.Path the archive replaces, reserved
	archive *image.ArchiveAhead
	ended   bool // saved or aborted
}

// StartAhead begins to write ref, when it is an oci-archive: path, with
// first, the layers the image Save will be given begins with; nil for
// any other ref, no layers, or when the temp file cannot be made (Save
// then writes it all). Save or Abort must follow; ctx bounds the write
// of first.
func StartAhead(ctx context.Context, ref Ref, first []layer.Layer, store *cache.Store) *Ahead {
	if ref.Transport != OCIArchive || len(first) == 0 {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(ref.Path), "."+filepath.Base(ref.Path)+".mybuild-")
	if err != nil {
		return nil
	}
	f.Close()
	return &Ahead{ref: ref, tmp: f.Name(), archive: image.StartOCIArchive(ctx, f.Name(), first, store)}
}

// Abort drops what was written ahead: the file at the ref's path is left
// as it was. It does nothing after Save, nor on nil.
func (a *Ahead) Abort() {
	if a == nil || a.ended {
		return
	}
	a.ended = true
	a.archive.Abort()
	os.Remove(a.tmp)
}

// of reports whether a was begun for ref, and is still to be saved.
func (a *Ahead) of(ref Ref) bool {
	return a != nil && !a.ended && a.ref.String() == ref.String()
}

// save is Save of img, whose archive key is key, through a: the archive
// in place when it is already img's (see archiveInPlace), else the rest
// of img written after what a wrote, renamed into place and sealed. ok is
// false when img does not begin with what a wrote: nothing is written,
// and the caller writes it the usual way.
func (a *Ahead) save(ctx context.Context, store *cache.Store, key string, img *image.Image) (_ digest.Digest, ok bool, err error) {
	if d, in := archiveInPlace(store, a.ref.Path, key); in {
		a.Abort()
		return d, true, nil
	}
	a.ended = true
	m, err := a.archive.Finish(ctx, img, a.ref.Name)
	if err != nil {
		os.Remove(a.tmp)
		if errors.Is(err, image.ErrNotAhead) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("write %s: %w", a.ref, err)
	}
	d := m.Descriptor.Digest
	if err := placeArchive(store, a.ref, key, a.tmp, d); err != nil {
		return "", false, fmt.Errorf("write %s: %w", a.ref, err)
	}
	return d, true, nil
}
