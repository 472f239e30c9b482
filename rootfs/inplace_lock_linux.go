package rootfs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// lockTree takes, for the rest of the build (until Settle; a build takes
// it with Hold, before its first step), the lock on
// the tree that every in-place build holds while it changes it: an
// exclusive flock on the tree's root directory itself, so that two
// mybuild processes in one container (two CI jobs sharing it, say) take
// turns, whatever their cache dirs. The builder's own Exclusive only
// orders the steps of one process. A second build waits, saying so once.
func (d *InPlace) lockTree(ctx context.Context) error {
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	if d.treeLock >= 0 {
		return nil
	}
	fd, err := unix.Open(d.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("lock %s: %w", d.root, err)
	}
	for wait, said := 10*time.Millisecond, false; ; wait = min(2*wait, 500*time.Millisecond) {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			d.treeLock = fd
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			unix.Close(fd)
			return fmt.Errorf("lock %s: %w", d.root, err)
		}
		if !said && d.warn != nil {
			d.warn(fmt.Sprintf("another build is changing %s in place: waiting for it to end", d.root))
			said = true
		}
		select {
		case <-ctx.Done():
			unix.Close(fd)
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Hold takes the tree's lock for the build (see Holder), before its
// first step.
func (d *InPlace) Hold(ctx context.Context) error { return d.lockTree(ctx) }

// unlockTree lets the next build change the tree, and forgets what it
// holds: another build may change it before this driver takes it again.
func (d *InPlace) unlockTree() {
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	if d.treeLock >= 0 {
		unix.Close(d.treeLock) // closing the descriptor drops its flock
		d.treeLock = -1
		d.forget()
	}
}
