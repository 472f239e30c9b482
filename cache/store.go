package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Layout of the store under its root.
const (
	blobsDir  = "blobs/sha256"  // compressed blobs by digest
	layersDir = "layers/sha256" // unpacked layers by diffID
	stepsDir  = "steps"         // step records by key
	locksDir  = "locks"         // per-key computation locks
	tmpDir    = "tmp"           // one scratch dir per running build
	stateDir  = "state"         // small named files for other packages
	rootLock  = "lock"          // shared by builds, exclusive for prune
)

// ErrCorrupt reports an entry whose content does not match its digest.
var ErrCorrupt = errors.New("corrupted cache entry")

// Store is an open cache directory. Several processes may use one store at
// once: every entry is written to a private temp name and renamed into
// place, and work on the same step is serialised with file locks.
type Store struct {
	root   string
	shared *fileLock // held for the life of the Store
	// exclusive is set when no other build can use the store.
	exclusive bool
	tmp       string // this Store's scratch dir
	tmpLock   *fileLock
}

// Option configures Open.
type Option func(*openOptions)

type openOptions struct {
	exclusive bool
}

// Exclusive opens the store for deleting entries: it waits until no other
// build uses the store, and keeps others out until Close.
func Exclusive() Option {
	return func(o *openOptions) { o.exclusive = true }
}

// Open opens (creating) the store at root, and reclaims what builds that
// died left behind.
func Open(ctx context.Context, root string, opts ...Option) (*Store, error) {
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{blobsDir, layersDir, stepsDir, locksDir, tmpDir, stateDir} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("open cache: %w", err)
		}
	}
	how := lockShared
	if o.exclusive {
		how = lockExclusive
	}
	shared, err := lock(ctx, filepath.Join(root, rootLock), how)
	if err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	s := &Store{root: root, shared: shared, exclusive: o.exclusive}
	if err := s.reclaim(); err != nil {
		shared.unlock()
		return nil, err
	}
	if err := s.makeTmp(); err != nil {
		shared.unlock()
		return nil, err
	}
	return s, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// Close removes this Store's scratch dir and releases its locks.
func (s *Store) Close() error {
	err := os.RemoveAll(s.tmp)
	if rerr := os.Remove(s.tmp + ".lock"); err == nil && rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	s.tmpLock.unlock()
	s.shared.unlock()
	return err
}

// TempDir makes a new empty directory in this Store's scratch dir, on the
// same filesystem as the store, so it can be renamed into it.
func (s *Store) TempDir(prefix string) (string, error) {
	return os.MkdirTemp(s.tmp, prefix)
}

// StatePath is the path of a small state file that another package keeps
// in the store, for example a stat cache. name must be a plain file name.
func (s *Store) StatePath(name string) string {
	return filepath.Join(s.root, stateDir, name)
}

func (s *Store) makeTmp() error {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	s.tmp = filepath.Join(s.root, tmpDir, hex.EncodeToString(b[:]))
	l, ok, err := tryLock(s.tmp + ".lock")
	if err != nil || !ok {
		return fmt.Errorf("open cache: lock scratch dir: %v", err)
	}
	s.tmpLock = l
	if err := os.Mkdir(s.tmp, 0o700); err != nil {
		l.unlock()
		return fmt.Errorf("open cache: %w", err)
	}
	return nil
}

// reclaim removes the scratch dirs of builds that are gone, after
// unmounting anything left mounted in them.
func (s *Store) reclaim() error {
	entries, err := os.ReadDir(filepath.Join(s.root, tmpDir))
	if err != nil {
		return err
	}
	for _, e := range entries {
		name, isLock := strings.CutSuffix(e.Name(), ".lock")
		if !isLock {
			continue
		}
		lockPath := filepath.Join(s.root, tmpDir, e.Name())
		l, free, err := tryLock(lockPath)
		if err != nil {
			return fmt.Errorf("reclaim cache scratch: %w", err)
		}
		if !free {
			continue // its build is still running
		}
		dir := filepath.Join(s.root, tmpDir, name)
		err = unmountUnder(dir)
		if err == nil {
			err = os.RemoveAll(dir)
		}
		if err == nil {
			err = os.Remove(lockPath)
		}
		l.unlock()
		if err != nil {
			return fmt.Errorf("reclaim cache scratch: %w", err)
		}
	}
	// Scratch dirs without a lock file are from a crash between the two.
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		dir := filepath.Join(s.root, tmpDir, e.Name())
		if _, err := os.Stat(dir + ".lock"); errors.Is(err, os.ErrNotExist) {
			if err := unmountUnder(dir); err != nil {
				return err
			}
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("reclaim cache scratch: %w", err)
			}
		}
	}
	return nil
}
