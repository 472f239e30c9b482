package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// Steps lists every readable step record, most recently used first.
func (s *Store) Steps() ([]*Record, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, stepsDir))
	if err != nil {
		return nil, err
	}
	var recs []*Record
	for _, e := range entries {
		hex, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		rec, err := s.Step(digest.NewDigestFromEncoded(digest.SHA256, hex))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].LastUsed.After(recs[j].LastUsed) })
	return recs, nil
}

// Size is the number of bytes the record's own layer blob takes; a FROM
// record counts its base layers.
func (r *Record) Size() int64 {
	var n int64
	for _, l := range r.layers() {
		n += l.Size
	}
	return n
}

// Usage is what the store takes on disk.
type Usage struct {
	Steps        int
	Blobs        int
	BlobBytes    int64
	Layers       int
	LayerBytes   int64
	MountBytes   int64 // directories of RUN --mount=type=cache
	OtherBytes   int64 // records, state, scratch dirs of running builds
	ReclaimBytes int64 // what prune without flags would free
}

// Total is every byte of the store.
func (u Usage) Total() int64 { return u.BlobBytes + u.LayerBytes + u.MountBytes + u.OtherBytes }

// Usage measures the store. Unpacked layers are walked, so it takes a
// while on a large cache.
func (s *Store) Usage() (Usage, error) {
	var u Usage
	inv, err := s.inventory()
	if err != nil {
		return u, err
	}
	u.Steps = len(inv.records)
	for d, size := range inv.blobs {
		u.Blobs++
		u.BlobBytes += size
		if inv.blobRefs[d] == 0 {
			u.ReclaimBytes += size
		}
	}
	for id, size := range inv.layers {
		u.Layers++
		u.LayerBytes += size
		if inv.layerRefs[id] == 0 {
			u.ReclaimBytes += size
		}
	}
	if u.MountBytes, err = dirSize(filepath.Join(s.root, mountsDir)); err != nil {
		return u, err
	}
	for _, d := range []string{stepsDir, locksDir, tmpDir, stateDir} {
		n, err := dirSize(filepath.Join(s.root, d))
		if err != nil {
			return u, err
		}
		u.OtherBytes += n
	}
	return u, nil
}

// inventory is every entry of the store and what refers to it.
type inventory struct {
	records []*Record
	blobs   map[digest.Digest]int64 // size of each blob
	layers  map[digest.Digest]int64 // size of each unpacked layer
	// How many records refer to each blob (as a layer or a file list)
	// and layer.
	blobRefs  map[digest.Digest]int
	layerRefs map[digest.Digest]int
}

func (s *Store) inventory() (*inventory, error) {
	inv := &inventory{
		blobs: map[digest.Digest]int64{}, layers: map[digest.Digest]int64{},
		blobRefs: map[digest.Digest]int{}, layerRefs: map[digest.Digest]int{},
	}
	var err error
	if inv.records, err = s.Steps(); err != nil {
		return nil, err
	}
	for _, r := range inv.records {
		for _, d := range r.blobRefs() {
			inv.blobRefs[d]++
		}
		for _, l := range r.layers() {
			inv.layerRefs[l.DiffID]++
		}
	}
	blobs, err := os.ReadDir(filepath.Join(s.root, blobsDir))
	if err != nil {
		return nil, err
	}
	for _, e := range blobs {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		inv.blobs[digest.NewDigestFromEncoded(digest.SHA256, e.Name())] = fi.Size()
	}
	layers, err := os.ReadDir(filepath.Join(s.root, layersDir))
	if err != nil {
		return nil, err
	}
	for _, e := range layers {
		if isSealName(e.Name()) {
			continue
		}
		n, err := dirSize(filepath.Join(s.root, layersDir, e.Name()))
		if err != nil {
			return nil, err
		}
		inv.layers[digest.NewDigestFromEncoded(digest.SHA256, e.Name())] = n
	}
	return inv, nil
}

// dirSize adds up the blocks of everything under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		n += diskUsage(fi)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure %s: %w", dir, err)
	}
	return n, nil
}
