package cache

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
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
	blobRefs, layerRefs := map[digest.Digest]int{}, map[digest.Digest]int{}
	for _, r := range inv.records {
		for _, l := range r.layers() {
			blobRefs[l.Digest]++
			layerRefs[l.DiffID]++
		}
	}
	total := int64(0)
	for d, n := range inv.blobs {
		if blobRefs[d] > 0 {
			total += n
		}
	}
	for id, n := range inv.layers {
		if layerRefs[id] > 0 {
			total += n
		}
	}
	drop := func(r *Record) {
		for _, l := range r.layers() {
			if blobRefs[l.Digest]--; blobRefs[l.Digest] == 0 {
				total -= inv.blobs[l.Digest]
			}
			if layerRefs[l.DiffID]--; layerRefs[l.DiffID] == 0 {
				total -= inv.layers[l.DiffID]
			}
		}
	}
	// Oldest first.
	sort.Slice(inv.records, func(i, j int) bool { return inv.records[i].LastUsed.Before(inv.records[j].LastUsed) })
	cutoff := time.Now().Add(-opts.Until)
	for _, r := range inv.records {
		doomed := opts.All ||
			(opts.Until > 0 && r.LastUsed.Before(cutoff)) ||
			(opts.KeepStorage > 0 && total > opts.KeepStorage)
		if !doomed {
			continue
		}
		drop(r)
		if err := s.DeleteStep(r.Key); err != nil {
			return rep, err
		}
		rep.Steps++
	}
	for d, n := range inv.blobs {
		if blobRefs[d] > 0 {
			continue
		}
		if err := s.DeleteBlob(d); err != nil {
			return rep, err
		}
		rep.Blobs++
		rep.Bytes += n
	}
	for id, n := range inv.layers {
		if layerRefs[id] > 0 {
			continue
		}
		if err := s.DeleteLayer(id); err != nil {
			return rep, err
		}
		rep.Layers++
		rep.Bytes += n
	}
	if opts.All {
		n, err := dirSize(filepath.Join(s.root, mountsDir))
		if err != nil {
			return rep, err
		}
		if err := s.removeMounts(); err != nil {
			return rep, err
		}
		rep.Bytes += n
		for _, d := range []string{stateDir, locksDir} {
			if err := emptyDir(filepath.Join(s.root, d)); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
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
