package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// mountsDir holds the directories of RUN --mount=type=cache, which persist
// between builds and never reach a layer.
const mountsDir = "mounts"

// Sharing modes of a cache mount, as in BuildKit.
const (
	SharingShared  = "shared"  // every build uses the directory at once
	SharingLocked  = "locked"  // one build at a time; the others wait
	SharingPrivate = "private" // a build that finds it busy gets its own copy
)

// CacheMount returns the directory of the cache mount id, creating it with
// init the first time, and holds it as sharing says until release.
func (s *Store) CacheMount(ctx context.Context, id, sharing string, init func(dir string) error) (dir string, release func(), err error) {
	sum := sha256.Sum256([]byte(id))
	base := filepath.Join(s.root, mountsDir, hex.EncodeToString(sum[:16]))
	if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
		return "", nil, err
	}
	var l *fileLock
	dir = base
	switch sharing {
	case "", SharingShared:
	case SharingLocked:
		if l, err = lock(ctx, base+".lock", lockExclusive); err != nil {
			return "", nil, err
		}
	case SharingPrivate:
		for i := 0; ; i++ {
			if i > 0 {
				dir = base + "-" + strconv.Itoa(i)
			}
			var free bool
			if l, free, err = tryLock(dir + ".lock"); err != nil {
				return "", nil, err
			}
			if free {
				break
			}
		}
	default:
		return "", nil, fmt.Errorf("unknown cache mount sharing %q", sharing)
	}
	if err := s.makeMountDir(dir, init); err != nil {
		l.unlock()
		return "", nil, err
	}
	return dir, func() { l.unlock() }, nil
}

// LockMountSync serialises, between builds, the import and export of
// the shared copy of the cache mount id (see package mountsync). It is
// not the lock of sharing=locked, which a step holds while it runs.
func (s *Store) LockMountSync(ctx context.Context, id string) (unlock func(), err error) {
	sum := sha256.Sum256([]byte(id))
	base := filepath.Join(s.root, mountsDir, hex.EncodeToString(sum[:16]))
	if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
		return nil, err
	}
	l, err := lock(ctx, base+".sync", lockExclusive)
	if err != nil {
		return nil, err
	}
	return func() { l.unlock() }, nil
}

// makeMountDir creates dir through a temp dir and a rename, so that a
// crash never leaves one half set up.
func (s *Store) makeMountDir(dir string, init func(string) error) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	tmp, err := s.TempDir("mount-")
	if err != nil {
		return err
	}
	if init != nil {
		if err := init(tmp); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	// Never onto a dir another build made meanwhile: rename(2) would
	// replace it while it is still empty, under that build's feet.
	if err := renameNoReplace(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if errors.Is(err, os.ErrExist) {
			return nil // another build made it first
		}
		return err
	}
	return nil
}

// removeMounts deletes every cache mount.
func (s *Store) removeMounts() error {
	err := os.RemoveAll(filepath.Join(s.root, mountsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
