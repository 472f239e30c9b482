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
	"sync"

	"github.com/mybuild/mybuild/internal/userns"
)

// Layout of the store under its root.
const (
	blobsDir = "blobs/sha256" // compressed blobs by digest
	stepsDir = "steps"        // step records by key
	locksDir = "locks"        // per-key computation locks
	tmpDir   = "tmp"          // one scratch dir per running build
	stateDir = "state"        // small named files for other packages
	rootLock = "lock"         // shared by builds, exclusive for prune
)

// layersDir holds unpacked layers by diffID, in the overlay form of this
// process (see overlay.XattrPrefix): the layers of a rootless or
// non-root builder mark opaque directories with user.overlay.opaque, and
// are kept apart from root's.
var layersDir = unpackedDir()

func unpackedDir() string {
	if userns.UserXattrs() {
		return "layers-userxattr/sha256"
	}
	return "layers/sha256"
}

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

	// unflushed are the blobs moved into place before a flush made them
	// durable (BlobWriter.CommitUnflushed): the next flush seals them.
	unflushedMu sync.Mutex
	unflushed   []*unflushedBlob
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
	for _, d := range []string{blobsDir, blobSealsDir, membersDir, layersDir, stepsDir, locksDir, tmpDir, stateDir} {
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

// Close removes this Store's scratch dir, after unmounting anything left
// mounted in it, as reclaim would, and releases its locks. The lock file
// goes last: a scratch dir never exists without its lock file.
func (s *Store) Close() error {
	s.dropUnflushed(s.listUnflushed(), false) // their files
	err := unmountUnder(s.tmp)
	if err == nil {
		err = os.RemoveAll(s.tmp)
	}
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

// ScratchFile creates a file in this Store's scratch dir, open to read
// and write, and removes its name at once: what is written to it takes
// room in the store's filesystem until it is closed, and nothing is left
// behind whatever happens to the caller.
func (s *Store) ScratchFile() (*os.File, error) {
	f, err := os.CreateTemp(s.tmp, "scratch-")
	if err != nil {
		return nil, fmt.Errorf("scratch file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("scratch file: %w", err)
	}
	return f, nil
}

// StatePath is the path of a small state file that another package keeps
// in the store, for example a stat cache. name must be a plain file name.
func (s *Store) StatePath(name string) string {
	return StatePathIn(s.root, name)
}

// StatePathIn is StatePath of the store at dir, for a reader of one
// state file that does not open the store, and so makes nothing there
// (see registry.StartPrefetch).
func StatePathIn(dir, name string) string {
	return filepath.Join(dir, stateDir, name)
}

// makeTmp creates this Store's scratch dir X, and X.lock before it, held
// until Close: reclaim removes X only once it has X.lock's lock, and
// removes X.lock last, so a scratch dir never lacks its lock file.
func (s *Store) makeTmp() error {
	// Between creating X.lock and locking it, a reclaim in another build
	// can lock it, find it free and unlink it; tryLock then reports that
	// it is no longer the file at the path, and a new name is tried.
	for range 8 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		tmp := filepath.Join(s.root, tmpDir, hex.EncodeToString(b[:]))
		l, ok, err := tryLock(tmp + ".lock")
		if err != nil {
			return fmt.Errorf("open cache: lock scratch dir: %w", err)
		}
		if !ok {
			continue
		}
		if err := os.Mkdir(tmp, 0o700); err != nil {
			l.unlock()
			return fmt.Errorf("open cache: %w", err)
		}
		s.tmp, s.tmpLock = tmp, l
		return nil
	}
	return errors.New("open cache: lock scratch dir: lost every try to reclaiming builds")
}

// reclaim removes the scratch dirs of builds that are gone, after
// unmounting anything left mounted in them. It does its best: a leftover
// it cannot remove (still mounted in another mount namespace, say) is
// left for a later Open, and does not keep this build from running.
func (s *Store) reclaim() error {
	entries, err := os.ReadDir(filepath.Join(s.root, tmpDir))
	if err != nil {
		return fmt.Errorf("open cache: reclaim scratch: %w", err)
	}
	for _, e := range entries {
		name, isLock := strings.CutSuffix(e.Name(), ".lock")
		if !isLock {
			continue
		}
		// Not free: its build still runs, or another build reclaims it.
		l, free, err := tryLock(filepath.Join(s.root, tmpDir, e.Name()))
		if err != nil || !free {
			continue
		}
		s.reclaimOne(filepath.Join(s.root, tmpDir, name))
		l.unlock()
	}
	// A scratch dir without a lock file is never removed: its lock file
	// is made before it and removed after it, so a dir without one
	// belongs to nobody we know of, and may be a live build's.
	return nil
}

// reclaimOne removes the scratch dir of a build that is gone, then its
// lock file, whose lock the caller holds. On failure both stay, for a
// later Open to retry.
func (s *Store) reclaimOne(dir string) {
	if err := unmountUnder(dir); err != nil {
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		return
	}
	os.Remove(dir + ".lock")
}
