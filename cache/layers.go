package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/mybuild/mybuild/internal/atomicfile"
	digest "github.com/opencontainers/go-digest"
)

// LayerPath is the directory the layer with this diffID unpacks to, in
// overlay format, ready to be a lowerdir.
func (s *Store) LayerPath(diffID digest.Digest) string {
	return filepath.Join(s.root, layersDir, diffID.Encoded())
}

// HasLayer reports whether the layer is unpacked. Unpacked layers appear by
// rename only, so one that exists is complete, but for a crash before it
// was flushed and sealed: CheckLayer tells, and is to be asked before the
// layer is used.
func (s *Store) HasLayer(diffID digest.Digest) bool {
	if diffID.Validate() != nil {
		return false
	}
	fi, err := os.Stat(s.LayerPath(diffID))
	return err == nil && fi.IsDir()
}

// CommitLayer makes dir, a directory from TempDir, the unpacked layer
// diffID, and seals it (see seal): it is renamed into place, flushed to
// disk, then walked and its seal written beside it, all under the layer's
// lock, so that a check never takes a layer still being sealed for one
// without a seal. A crash before the seal is written leaves a layer
// without one, which is never used: it is unpacked again. If another
// build committed the same layer in the meantime, dir is removed and that
// one is kept.
func (s *Store) CommitLayer(dir string, diffID digest.Digest, opts ...CommitOption) (string, error) {
	path, sealed, err := s.CommitLayerLater(dir, diffID, opts...)
	if err != nil {
		return "", err
	}
	if err := sealed(); err != nil {
		return "", err
	}
	return path, nil
}

// CommitLayerLater is CommitLayer that returns once the layer is in
// place, its flush and seal left running: sealed waits for them and
// returns their error. The caller may use the layer meanwhile, read
// only, as its own; other builds wait for the seal, since the layer's
// lock is held until then. The caller must call sealed before it ends.
func (s *Store) CommitLayerLater(dir string, diffID digest.Digest, opts ...CommitOption) (path string, sealed func() error, err error) {
	var o commitOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := diffID.Validate(); err != nil {
		return "", nil, fmt.Errorf("commit layer: %w", err)
	}
	unlock, err := s.lockLayer(context.Background(), diffID)
	if err != nil {
		return "", nil, fmt.Errorf("commit layer %s: %w", diffID, err)
	}
	final, placed, err := s.placeLayer(dir, diffID)
	if err != nil || !placed {
		unlock()
		return final, func() error { return nil }, err
	}
	done := make(chan error, 1)
	go func() {
		defer unlock()
		done <- s.flushAndSeal(diffID, o.known)
	}()
	return final, sync.OnceValue(func() error { return <-done }), nil
}

// placeLayer renames dir into place as the layer diffID, under the
// layer's lock; placed is false when another build's sealed layer was
// there already, and is kept.
func (s *Store) placeLayer(dir string, diffID digest.Digest) (final string, placed bool, err error) {
	final = s.LayerPath(diffID)
	err = renameNoReplace(dir, final)
	if errors.Is(err, os.ErrExist) {
		if _, serr := s.readSeal(diffID); serr == nil {
			// Another build won; its layer may be in use already.
			if rerr := os.RemoveAll(dir); rerr != nil {
				return "", false, fmt.Errorf("commit layer %s: %w", diffID, rerr)
			}
			return final, false, nil
		}
		// One without a seal: nobody checked it, so nobody uses it.
		if err = s.deleteLayer(diffID); err == nil {
			err = renameNoReplace(dir, final)
		}
	}
	if err != nil {
		return "", false, fmt.Errorf("commit layer %s: %w", diffID, err)
	}
	return final, true, nil
}

// flushAndSeal flushes the layer just renamed into place to disk and
// seals it, the seal's walk (after the clock's tick, see clockAfter) and
// the writing of its file running while the flush waits on the disk. The
// seal is renamed into place only once the flush is done: a seal must
// never vouch for data a crash could still lose.
func (s *Store) flushAndSeal(diffID digest.Digest, known *knownContent) error {
	flushed := make(chan error, 1)
	go func() { flushed <- s.syncFS() }()
	wait := sync.OnceValue(func() error { return <-flushed })
	err := s.sealAfter(diffID, known, wait)
	if ferr := wait(); ferr != nil {
		return ferr
	}
	return err
}

// sealAfter seals the layer diffID, renaming its seal into place once
// wait (if not nil) returns.
func (s *Store) sealAfter(diffID digest.Digest, known *knownContent, wait func() error) error {
	start, err := clockAfter(s.tmpLock.f, s.LayerPath(diffID))
	if err != nil {
		return fmt.Errorf("seal layer %s: %w", diffID, err)
	}
	sl, err := makeSeal(s.LayerPath(diffID), start, known)
	if err != nil {
		return fmt.Errorf("seal layer %s: %w", diffID, err)
	}
	return s.writeSeal(diffID, sl, atomicfile.BeforeRename(wait))
}

// CommitOption configures CommitLayer.
type CommitOption func(*commitOptions)

type commitOptions struct {
	known *knownContent
}

// KnownContent is the content digest of a regular file, from a pass that
// read it (layerdiff.WithContentDigests), with the stat data it had then.
type KnownContent struct {
	Ino          uint64
	Size         int64
	Mtime, Ctime int64 // nanoseconds
	Digest       digest.Digest
}

type knownContent struct {
	files map[uint64]KnownContent // by inode
	// readAfter is the filesystem's clock before the pass (Store.Clock).
	readAfter int64
}

// WithKnownContent gives CommitLayer the digests of files of the layer,
// by inode, that a pass which began at readAfter (Store.Clock) read: the
// seal takes them rather than reading the files again, when the file's
// size, mtime and ctime are still those, and the ctime is older than
// readAfter (a file changed in the same tick of the clock as the pass
// began could have changed again unseen).
func WithKnownContent(files map[uint64]KnownContent, readAfter int64) CommitOption {
	return func(o *commitOptions) { o.known = &knownContent{files: files, readAfter: readAfter} }
}

// Clock is the filesystem's clock now, as it sets ctimes in the store.
func (s *Store) Clock() (int64, error) { return fsClock(s.tmpLock.f) }

// ClockAfter is Clock once it has moved past the ctime of path, a file
// on the store's filesystem or one whose clock is the same: a change of
// path after it returns gives path a later ctime than the one it had.
func (s *Store) ClockAfter(path string) (int64, error) { return clockAfter(s.tmpLock.f, path) }

// sealLayer makes and writes the seal of the layer, as it is now, taking
// the digests of known files from known (which may be nil). The caller
// holds the layer's lock.
func (s *Store) sealLayer(diffID digest.Digest, known *knownContent) error {
	return s.sealAfter(diffID, known, nil)
}

// lockLayer serialises the commit, sealing and removal of one unpacked
// layer between builds.
func (s *Store) lockLayer(ctx context.Context, diffID digest.Digest) (unlock func(), err error) {
	l, err := lock(ctx, filepath.Join(s.root, locksDir, "layer-"+diffID.Encoded()), lockExclusive)
	if err != nil {
		return nil, err
	}
	return func() { l.unlock() }, nil
}

// DeleteLayer removes an unpacked layer and its seal.
func (s *Store) DeleteLayer(diffID digest.Digest) error {
	unlock, err := s.lockLayer(context.Background(), diffID)
	if err != nil {
		return err
	}
	defer unlock()
	return s.deleteLayer(diffID)
}

// deleteLayer is DeleteLayer for a caller that holds the layer's lock.
// The seal goes last: a seal without its layer is never trusted (a layer
// committed later at the path gets a seal of its own), a layer without
// its seal is unpacked again.
func (s *Store) deleteLayer(diffID digest.Digest) error {
	// Rename first so that nobody sees a half-removed layer.
	tmp, err := s.TempDir("rm-")
	if err != nil {
		return err
	}
	victim := filepath.Join(tmp, "layer")
	if err := os.Rename(s.LayerPath(diffID), victim); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.Remove(tmp)
		return err
	}
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	return s.removeSeal(diffID)
}
