package cache

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// PruneOptions selects what Prune removes. With no option set, it removes
// only orphans: blobs and unpacked layers that no step record refers to.
type PruneOptions struct {
	// All removes everything, the directories of cache mounts included.
	All bool
	// KeepStorage removes the least recently used steps until the blobs
	// and unpacked layers take at most this many bytes; 0 means no limit.
	KeepStorage int64
	// Until removes the steps not used for this long; 0 means no limit.
	Until time.Duration
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Steps, Blobs, Layers int
	Bytes                int64
}

// Prune removes entries from a store opened with Exclusive.
func (s *Store) Prune(opts PruneOptions) (PruneReport, error) {
	var rep PruneReport
	if !s.exclusive {
		return rep, errors.New("prune: the cache must be opened exclusively")
	}
	inv, err := s.inventory()
	if err != nil {
		return rep, err
	}
	if rep.Steps, err = s.pruneRecords(inv, opts); err != nil {
		return rep, err
	}
	if err := s.dropIndex(); err != nil {
		return rep, err
	}
	var n int64
	rep.Blobs, n, err = deleteUnreferenced(inv.blobs, inv.blobRefs, s.DeleteBlob)
	if rep.Bytes += n; err != nil {
		return rep, err
	}
	rep.Layers, n, err = deleteUnreferenced(inv.layers, inv.layerRefs, s.DeleteLayer)
	if rep.Bytes += n; err != nil {
		return rep, err
	}
	n, err = s.pruneState(opts.All)
	rep.Bytes += n
	return rep, err
}

// pruneRecords deletes the step records opts dooms, oldest first, and
// takes their references out of inv; it says how many it deleted.
func (s *Store) pruneRecords(inv *inventory, opts PruneOptions) (int, error) {
	// total is what the referenced blobs and layers take.
	total := int64(0)
	for d, n := range inv.blobs {
		if inv.blobRefs[d] > 0 {
			total += n
		}
	}
	for id, n := range inv.layers {
		if inv.layerRefs[id] > 0 {
			total += n
		}
	}
	drop := func(r *Record) {
		for _, d := range r.blobRefs() {
			if inv.blobRefs[d]--; inv.blobRefs[d] == 0 {
				total -= inv.blobs[d]
			}
		}
		for _, l := range r.layers() {
			if inv.layerRefs[l.DiffID]--; inv.layerRefs[l.DiffID] == 0 {
				total -= inv.layers[l.DiffID]
			}
		}
	}
	sort.Slice(inv.records, func(i, j int) bool { return inv.records[i].LastUsed.Before(inv.records[j].LastUsed) })
	cutoff := time.Now().Add(-opts.Until)
	deleted := 0
	for _, r := range inv.records {
		doomed := opts.All ||
			(opts.Until > 0 && r.LastUsed.Before(cutoff)) ||
			(opts.KeepStorage > 0 && total > opts.KeepStorage)
		if !doomed {
			continue
		}
		drop(r)
		if err := s.DeleteStep(r.Key); err != nil {
			return deleted, err
		}
		deleted++
	}
	return deleted, nil
}

// pruneState removes the seals of layers that are gone and the lock
// files, and with all, the cache mounts and other packages' state; it
// says how many bytes of mounts it freed.
func (s *Store) pruneState(all bool) (int64, error) {
	if err := s.removeOrphanSeals(); err != nil {
		return 0, err
	}
	// A lock file per key ever computed: no build runs while prune holds
	// the store, so none is held.
	if err := emptyDir(filepath.Join(s.root, locksDir)); err != nil {
		return 0, err
	}
	if !all {
		return 0, nil
	}
	n, err := dirSize(filepath.Join(s.root, mountsDir))
	if err != nil {
		return 0, err
	}
	if err := s.removeMounts(); err != nil {
		return 0, err
	}
	return n, emptyDir(filepath.Join(s.root, stateDir))
}

// deleteUnreferenced deletes, with del, every entry of sizes that refs
// does not count, and says how many it deleted and their size.
func deleteUnreferenced(sizes map[digest.Digest]int64, refs map[digest.Digest]int, del func(digest.Digest) error) (n int, bytes int64, err error) {
	for d, size := range sizes {
		if refs[d] > 0 {
			continue
		}
		if err := del(d); err != nil {
			return n, bytes, err
		}
		n++
		bytes += size
	}
	return n, bytes, nil
}

func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// removeOrphanSeals removes the seals whose layer is gone (a removal that
// a crash cut short).
func (s *Store) removeOrphanSeals() error {
	entries, err := os.ReadDir(filepath.Join(s.root, layersDir))
	if err != nil {
		return err
	}
	for _, e := range entries {
		hex, ok := strings.CutSuffix(e.Name(), sealSuffix)
		if !ok {
			continue
		}
		if _, err := os.Lstat(filepath.Join(s.root, layersDir, hex)); errors.Is(err, os.ErrNotExist) {
			if err := os.Remove(filepath.Join(s.root, layersDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return s.removeOrphanBlobSeals()
}

// removeOrphanBlobSeals removes the blob seals and member tables whose
// blob is gone (a build died between the two).
func (s *Store) removeOrphanBlobSeals() error {
	for _, dir := range []string{blobSealsDir, membersDir} {
		names, err := readDirNames(filepath.Join(s.root, dir))
		if err != nil {
			return err
		}
		for _, name := range names {
			if _, err := os.Lstat(filepath.Join(s.root, blobsDir, name)); errors.Is(err, os.ErrNotExist) {
				if err := os.Remove(filepath.Join(s.root, dir, name)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
