package cache

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mybuild/mybuild/internal/userns"
	digest "github.com/opencontainers/go-digest"
)

// CheckLayer checks the unpacked layer diffID against its seal, as a
// build does once before it first uses the layer as a lower dir, and
// cheaply: every entry is lstat'ed, and only those whose stat data
// (ctime included) differ from the seal's are read again. A layer that
// differs from its seal, or has none, is removed, and the error says why:
// a *DamageError (which is ErrCorrupt), or ErrUnsealed. The caller then
// unpacks it again from its blob, which is checked against its digest. A
// layer found intact that had to be read again (a cache dir copied
// elsewhere has new inodes and ctimes) is sealed anew, so that the next
// check is quick again. A layer sealed in a user namespace (the rootless
// mode) and checked outside one, or the other way round, fails with
// ErrOtherView, and stays.
func (s *Store) CheckLayer(ctx context.Context, diffID digest.Digest) error {
	problems, err := s.inspectLayer(ctx, diffID, false, true)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &DamageError{DiffID: diffID, Problems: problems}
	}
	return nil
}

// VerifyLayer checks the unpacked layer diffID against its seal in full,
// reading every file. With repair set, a layer that differs, or has no
// seal, is removed; the next build that needs it unpacks it again.
func (s *Store) VerifyLayer(ctx context.Context, diffID digest.Digest, repair bool) ([]Problem, error) {
	return s.inspectLayer(ctx, diffID, true, repair)
}

// inspectLayer compares a layer with its seal, under the layer's lock, so
// that a layer being committed and sealed is never taken for one without
// a seal; full reads every entry. With drop set, a layer that differs or
// has no seal is removed, still under the lock: a build that finds the
// same damage at the same time does not remove the layer that another one
// unpacked again meanwhile.
func (s *Store) inspectLayer(ctx context.Context, diffID digest.Digest, full, drop bool) ([]Problem, error) {
	if err := diffID.Validate(); err != nil {
		return nil, fmt.Errorf("check layer: %w", err)
	}
	unlock, err := s.lockLayer(ctx, diffID)
	if err != nil {
		return nil, fmt.Errorf("check layer %s: %w", diffID, err)
	}
	defer unlock()
	if !s.HasLayer(diffID) {
		return nil, fmt.Errorf("check layer %s: %w", diffID, os.ErrNotExist)
	}
	problems, err := s.compareLayer(diffID, full)
	if drop && (len(problems) > 0 || errors.Is(err, ErrUnsealed)) {
		if derr := s.deleteLayer(diffID); derr != nil {
			return nil, fmt.Errorf("remove damaged layer %s: %w", diffID, derr)
		}
	}
	return problems, err
}

// compareLayer compares a layer with its seal, and seals it anew when it
// had to read entries again and found them intact.
func (s *Store) compareLayer(diffID digest.Digest, full bool) ([]Problem, error) {
	sl, err := s.readSeal(diffID)
	if err != nil {
		return nil, err
	}
	if sl.Userns != userns.Inside() {
		return nil, fmt.Errorf("check layer %s: %w", diffID, ErrOtherView)
	}
	// A new seal needs the filesystem's clock from before its walk. A
	// quick check reads it only when it has to (entries read again, and
	// intact), and then walks again.
	var start int64
	if full {
		if start, err = fsClock(s.tmpLock.f); err != nil {
			return nil, fmt.Errorf("check layer %s: %w", diffID, err)
		}
	}
	problems, now, err := checkSeal(s.LayerPath(diffID), sl, full, start)
	if err == nil && !full && len(problems) == 0 && now != nil {
		if start, err = fsClock(s.tmpLock.f); err == nil {
			problems, now, err = checkSeal(s.LayerPath(diffID), sl, full, start)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("check layer %s: %w", diffID, err)
	}
	entry := "layer " + diffID.String()
	for i := range problems {
		problems[i].Entry = entry
	}
	if len(problems) == 0 && now != nil {
		if err := s.writeSeal(diffID, now); err != nil {
			return nil, err
		}
	}
	return problems, nil
}
