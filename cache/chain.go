package cache

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
)

// LayerChain finds, in the step records, the layers of an image up to
// and including the layer diffID, oldest first: what must lie below it
// when it is unpacked (hard links into lower layers, the metadata of
// parent directories it does not list). A base image's record lists its
// layers; a step's record adds its layer to its parent step's chain; the
// first step of a stage whose parent has no record starts on FROM
// scratch.
// ok is false when no record gives a whole chain, for example when the
// records of the steps before it were pruned.
func (s *Store) LayerChain(diffID digest.Digest) (chain []layer.Layer, ok bool, err error) {
	recs, err := s.readRecords()
	if err != nil {
		return nil, false, err
	}
	for _, rec := range recs {
		for i, l := range rec.Base {
			if l.DiffID == diffID {
				return rec.Base[:i+1], true, nil
			}
		}
		if rec.Layer == nil || rec.Layer.DiffID != diffID {
			continue
		}
		if rec.Inputs != nil && rec.Inputs.Parent == "" {
			// COPY --link: its layer depends on none below it.
			return []layer.Layer{*rec.Layer}, true, nil
		}
		if below, ok := chainOf(recs, rec.Inputs, 0); ok {
			return append(slices.Clip(below), *rec.Layer), true, nil
		}
	}
	return nil, false, nil
}

// chainOf is the chain of layers of the parent of the step whose inputs
// are in, from recs by key; depth bounds a walk through records that
// would loop.
func chainOf(recs map[digest.Digest]*Record, in *Inputs, depth int) ([]layer.Layer, bool) {
	if in == nil || in.Parent == "" || depth > len(recs) {
		return nil, false
	}
	rec, found := recs[in.Parent]
	switch {
	case !found && in.Position == 2:
		// The first step after FROM scratch, which leaves no record.
		return nil, true
	case !found:
		return nil, false
	case rec.Base != nil || rec.Inputs == nil && rec.Layer == nil && strings.HasPrefix(rec.CreatedBy, "FROM "):
		// A base image's record (one of an image without layers has no
		// Base).
		return rec.Base, true
	case rec.Inputs == nil:
		return nil, false // made before records kept their inputs
	}
	below, ok := chainOf(recs, rec.Inputs, depth+1)
	if !ok || rec.Layer == nil {
		return below, ok
	}
	return append(slices.Clip(below), *rec.Layer), true
}

// readRecords reads every step record that reads back whole, by key.
func (s *Store) readRecords() (map[digest.Digest]*Record, error) {
	names, err := readDirNames(filepath.Join(s.root, stepsDir))
	if err != nil {
		return nil, err
	}
	recs := make(map[digest.Digest]*Record, len(names))
	for _, name := range names {
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.root, stepsDir, name))
		if err != nil {
			continue // removed meanwhile, or unreadable: verify says so
		}
		if rec, err := decodeRecord(data, true); err == nil {
			recs[rec.Key] = rec
		}
	}
	return recs, nil
}
