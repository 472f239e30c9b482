package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
)

// LayerPath is the directory the layer with this diffID unpacks to, in
// overlay format, ready to be a lowerdir.
func (s *Store) LayerPath(diffID digest.Digest) string {
	return filepath.Join(s.root, layersDir, diffID.Encoded())
}

// HasLayer reports whether the layer is unpacked. Unpacked layers appear by
// rename only, so one that exists is complete.
func (s *Store) HasLayer(diffID digest.Digest) bool {
	if diffID.Validate() != nil {
		return false
	}
	fi, err := os.Stat(s.LayerPath(diffID))
	return err == nil && fi.IsDir()
}

// CommitLayer makes dir, a directory from TempDir, the unpacked layer
// diffID. Its content is flushed to disk first, so a crash never leaves a
// layer with missing data. If another build committed the same layer in
// the meantime, dir is removed and that one is kept.
func (s *Store) CommitLayer(dir string, diffID digest.Digest) (string, error) {
	if err := diffID.Validate(); err != nil {
		return "", fmt.Errorf("commit layer: %w", err)
	}
	if err := s.syncFS(); err != nil {
		return "", err
	}
	final := s.LayerPath(diffID)
	err := renameNoReplace(dir, final)
	if errors.Is(err, os.ErrExist) {
		// Another build won; its layer may be in use already.
		if rerr := os.RemoveAll(dir); rerr != nil {
			return "", fmt.Errorf("commit layer %s: %w", diffID, rerr)
		}
		return final, nil
	}
	if err != nil {
		return "", fmt.Errorf("commit layer %s: %w", diffID, err)
	}
	return final, nil
}

// DeleteLayer removes an unpacked layer.
func (s *Store) DeleteLayer(diffID digest.Digest) error {
	// Rename first so that nobody sees a half-removed layer.
	tmp, err := s.TempDir("rm-")
	if err != nil {
		return err
	}
	victim := filepath.Join(tmp, "layer")
	if err := os.Rename(s.LayerPath(diffID), victim); err != nil {
		os.Remove(tmp)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(tmp)
}
