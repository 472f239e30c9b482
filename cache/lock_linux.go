package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fileLock is an flock(2) on a file of the store. Locks die with the
// process, so a crashed build never leaves one behind.
type fileLock struct {
	f *os.File
}

func openLockFile(path string) (*os.File, error) {
	return openFile(path, unix.O_RDWR|unix.O_CREAT, 0o600)
}

// lock takes an flock on path, waiting until ctx is done.
func lock(ctx context.Context, path string, how int) (*fileLock, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	delay := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return &fileLock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// tryLock takes an exclusive flock on path if nobody holds one. ok is
// false when somebody does, and also when path no longer names the file
// locked: a build reclaiming scratch dirs unlinks lock files it finds
// free, so another process may have unlinked (or replaced) the file
// between the open and the flock, and a lock on an unlinked file guards
// nothing.
func tryLock(path string) (*fileLock, bool, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, false, err
	}
	return tryLockFile(f, path)
}

// tryLockFile is tryLock for f, opened from path; it closes f unless it
// returns the lock.
func tryLockFile(f *os.File, path string) (*fileLock, bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	if !stillAt(f, path) {
		f.Close()
		return nil, false, nil
	}
	return &fileLock{f: f}, true, nil
}

// stillAt reports whether path names the open file f: same device and
// inode.
func stillAt(f *os.File, path string) bool {
	var held, named unix.Stat_t
	if unix.Fstat(int(f.Fd()), &held) != nil || unix.Stat(path, &named) != nil {
		return false
	}
	return held.Dev == named.Dev && held.Ino == named.Ino
}

func (l *fileLock) unlock() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
