package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/internal/ctxio"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// WriteOCILayout adds img to the OCI layout in dir, creating it if need
// be, names it name (default DefaultName), replacing any image of that
// name, and returns the manifest it wrote. index.json is replaced
// atomically once every blob it names is in place, so that it never names
// a missing one.
func WriteOCILayout(ctx context.Context, dir, name string, img *Image, store Store) (*Manifest, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if err := writeOCIDir(ctx, dir, img, m, orDefaultName(name), store); err != nil {
		return nil, err
	}
	return m, nil
}

// WriteOCILayoutIndex adds the index of imgs (see NewIndex), annotated as
// a says, to the OCI layout in dir, as WriteOCILayout adds an image, and
// returns the index.
func WriteOCILayoutIndex(ctx context.Context, dir, name string, imgs []*Image, a IndexAnnotations, store Store) (*Index, error) {
	idx, err := NewIndex(imgs, a)
	if err != nil {
		return nil, err
	}
	top := jsonBlob{idx.Descriptor, idx.IndexJSON}
	if err := writeOCIDirBlobs(ctx, dir, imgs, idx.Manifests, &top, namedDescriptor(idx.Descriptor, orDefaultName(name)), store); err != nil {
		return nil, err
	}
	return idx, nil
}

// writeOCIDir adds img to the OCI layout in dir under name.
func writeOCIDir(ctx context.Context, dir string, img *Image, m *Manifest, name string, store Store) error {
	return writeOCIDirBlobs(ctx, dir, []*Image{img}, []*Manifest{m}, nil, namedDescriptor(m.Descriptor, name), store)
}

// writeOCIDirBlobs adds imgs, whose manifests are ms, and top, an index
// of them if not nil, to the OCI layout in dir, and names entry in its
// index.json. Blobs go in first, each written whole under its digest;
// then the blob directory is synced, and only then does index.json,
// replaced atomically, name the entry: a crash leaves at worst
// unreferenced blobs, never an index naming a missing one. Writers of the
// same layout take turns at index.json, so that none loses another's
// entry.
func writeOCIDirBlobs(ctx context.Context, dir string, imgs []*Image, ms []*Manifest, top *jsonBlob, entry ocispec.Descriptor, store Store) error {
	l := dirLayout{dir: dir}
	if err := l.create(); err != nil {
		return err
	}
	// The blob directories written to, to sync before the index names
	// their blobs: blobs/sha256, unless a layer uses another algorithm.
	dirs := map[string]bool{}
	seen := map[digest.Digest]bool{}
	for _, img := range imgs {
		for _, layer := range img.Layers {
			if seen[layer.Digest] {
				continue
			}
			seen[layer.Digest] = true
			if err := ctx.Err(); err != nil {
				return err
			}
			err := l.putBlob(layer.Digest, layer.Size, dirs, func() (io.ReadCloser, error) {
				r, err := openBlob(ctx, store, layer.Digest, layer.Size)
				if err != nil {
					return nil, err
				}
				return ctxio.ReadCloser(ctx, r), nil
			})
			if err != nil {
				return fmt.Errorf("layer %s: %w", layer.Digest, err)
			}
		}
	}
	var blobs []jsonBlob
	for _, m := range ms {
		blobs = append(blobs, jsonBlob{m.Config, m.ConfigJSON}, jsonBlob{m.Descriptor, m.ManifestJSON})
	}
	if top != nil {
		blobs = append(blobs, *top)
	}
	for _, b := range blobs {
		err := l.putBlob(b.desc.Digest, b.desc.Size, dirs, func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b.data)), nil
		})
		if err != nil {
			return err
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return l.addToIndex(ctx, entry)
}

// create makes the layout's directories and oci-layout file if they are
// missing. A directory that holds an index.json but no oci-layout is
// something else, and is left alone. index.json is looked at before
// oci-layout: a writer makes oci-layout first, so another writer
// creating the layout meanwhile is not taken for something else.
func (l dirLayout) create() error {
	layoutFile := filepath.Join(l.dir, ocispec.ImageLayoutFile)
	_, indexErr := os.Stat(filepath.Join(l.dir, ocispec.ImageIndexFile))
	data, err := os.ReadFile(layoutFile)
	switch {
	case err == nil:
		var layout ocispec.ImageLayout
		if err := json.Unmarshal(data, &layout); err != nil || layout.Version != ocispec.ImageLayoutVersion {
			return fmt.Errorf("%s: unsupported OCI layout %q", layoutFile, data)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	default:
		if indexErr == nil {
			return fmt.Errorf("%s holds an %s but no %s: not an OCI layout", l.dir, ocispec.ImageIndexFile, ocispec.ImageLayoutFile)
		}
	}
	if err := os.MkdirAll(filepath.Join(l.dir, ocispec.ImageBlobsDir, "sha256"), 0o755); err != nil {
		return err
	}
	if data != nil {
		return nil
	}
	return atomicfile.Write(layoutFile, func(w io.Writer) error {
		_, err := w.Write(layoutJSON())
		return err
	})
}

// putBlob writes the blob d unless the layout has it: to a temp file,
// hashed on the way, synced, checked, then renamed into place. A blob
// already there with the right size is trusted, as content-addressed
// stores do. The blob's directory is added to dirs. open gives the
// content, which must be size bytes.
func (l dirLayout) putBlob(d digest.Digest, size int64, dirs map[string]bool, open func() (io.ReadCloser, error)) error {
	p, err := l.blobPath(d)
	if err != nil {
		return err
	}
	// Even a blob found in place may be another writer's rename not yet
	// synced: its directory is synced all the same.
	if !dirs[filepath.Dir(p)] {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		dirs[filepath.Dir(p)] = true
	}
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		return nil
	}
	r, err := open()
	if err != nil {
		return err
	}
	defer r.Close()
	return atomicfile.Write(p, func(w io.Writer) error {
		h := d.Algorithm().Hash()
		n, err := io.Copy(io.MultiWriter(w, h), r)
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("blob %s: read %d bytes, want %d", d, n, size)
		}
		if got := digest.NewDigest(d.Algorithm(), h); got != d {
			return fmt.Errorf("blob %s: content has digest %s", d, got)
		}
		return nil
	})
}

// addToIndex rewrites index.json with desc, dropping the entries of the
// same name; entries of other names stay, in their order. The layout
// directory is locked meanwhile (flock, released when the process dies);
// waiting for the lock ends when ctx is done.
func (l dirLayout) addToIndex(ctx context.Context, desc ocispec.Descriptor) error {
	unlock, err := lockDir(ctx, l.dir)
	if err != nil {
		return err
	}
	defer unlock()
	indexPath := filepath.Join(l.dir, ocispec.ImageIndexFile)
	index := newIndex()
	data, err := readLimited(indexPath)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &index); err != nil {
			return fmt.Errorf("%s: %w", indexPath, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if index.MediaType == "" {
		index.MediaType = ocispec.MediaTypeImageIndex
	}
	index.SchemaVersion = 2
	name := desc.Annotations[ocispec.AnnotationRefName]
	kept := []ocispec.Descriptor{}
	for _, d := range index.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] != name {
			kept = append(kept, d)
		}
	}
	index.Manifests = append(kept, desc)
	out, err := json.Marshal(index)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(indexPath, func(w io.Writer) error {
		_, err := w.Write(out)
		return err
	}); err != nil {
		return err
	}
	return syncDir(l.dir)
}

// lockDir takes an exclusive flock on dir itself, so the layout holds no
// lock file. It polls, so that a writer waiting for another one stops
// when ctx is done.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	delay := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			// Closing the file releases the lock.
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: dir, Err: err}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// syncDir makes the renames done in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
