package cache

import (
	"errors"
	"fmt"
	"os"
	"slices"

	digest "github.com/opencontainers/go-digest"
)

// unflushedBlob is a blob moved into place before a flush made it durable
// (CommitUnflushed): its file, kept open so that the flush's errors for
// it are its own to see (see dropUnflushed), and its stat data once in
// place, for its seal.
type unflushedBlob struct {
	d  digest.Digest
	f  *os.File
	fi os.FileInfo // nil until it is in place
	// clock is the filesystem's clock once fi was taken (see
	// intactUnflushed).
	clock int64
}

// commitUnflushed moves the blob into place, unflushed, and lists it for
// the next flush to seal. It is listed before the rename, so that no read
// of all of it seals it meanwhile. A blob of the same digest and size in
// place already is kept, as it is: it may be durable, and an unflushed
// copy must not replace it.
func (w *BlobWriter) commitUnflushed(want digest.Digest) error {
	s, path := w.s, w.s.BlobPath(want)
	u := &unflushedBlob{d: want, f: w.f}
	s.unflushedMu.Lock()
	s.unflushed = append(s.unflushed, u)
	s.unflushedMu.Unlock()
	err := renameNoReplace(w.f.Name(), path)
	if errors.Is(err, os.ErrExist) {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().IsRegular() && fi.Size() == w.size {
			s.dropUnflushed([]*unflushedBlob{u}, false) // closes it
			os.Remove(w.f.Name())
			w.done = true
			return nil
		}
		err = os.Rename(w.f.Name(), path) // a damaged one: replaced
	}
	if err != nil {
		s.dropUnflushed([]*unflushedBlob{u}, false)
		return fmt.Errorf("store blob %s: %w", want, err)
	}
	w.done = true
	// Renaming moved its ctime: the seal takes the stat data after.
	fi, err := os.Stat(path)
	var clock int64
	if err == nil {
		// 0 when the clock cannot be read: then it is hashed when read
		// until its seal, which a failure here must not cost it.
		clock, _ = fsClock(s.tmpLock.f)
	}
	s.unflushedMu.Lock()
	if err == nil {
		u.fi, u.clock = fi, clock
	}
	s.unflushedMu.Unlock()
	return nil
}

// intactUnflushed tells whether blob d, whose stat data are fi, is one
// this store moved into place unflushed, its content checked against
// its digest as it was written, and unchanged since: its stat data are
// those it had once in place, and the filesystem's clock had moved past
// its ctime then, so that no write since could have left them so (as
// sealedBlob reasons). Its bytes are in the page cache, whether or not
// they reach the disk: this process may read it without hashing it
// again, though no seal vouches for it yet.
func (s *Store) intactUnflushed(d digest.Digest, fi os.FileInfo) bool {
	now, ok := statOfBlob(fi)
	if !ok {
		return false
	}
	s.unflushedMu.Lock()
	defer s.unflushedMu.Unlock()
	for _, u := range s.unflushed {
		if u.d != d || u.fi == nil {
			continue
		}
		if was, ok := statOfBlob(u.fi); ok && was == now && was.ctime < u.clock {
			return true
		}
	}
	return false
}

// isUnflushed tells whether blob d waits for a flush.
func (s *Store) isUnflushed(d digest.Digest) bool {
	s.unflushedMu.Lock()
	defer s.unflushedMu.Unlock()
	return slices.ContainsFunc(s.unflushed, func(u *unflushedBlob) bool { return u.d == d })
}

// listUnflushed is the blobs that wait for a flush now.
func (s *Store) listUnflushed() []*unflushedBlob {
	s.unflushedMu.Lock()
	defer s.unflushedMu.Unlock()
	return slices.Clone(s.unflushed)
}

// dropUnflushed takes bs off the list and closes their files; with seal
// set, it first seals each blob that its own file says was written
// whole: an fsync of it after the syncfs writes nothing, and reports
// what went wrong writing it back, which that syncfs may have reported
// to another caller.
func (s *Store) dropUnflushed(bs []*unflushedBlob, seal bool) {
	if len(bs) == 0 {
		return
	}
	s.unflushedMu.Lock()
	s.unflushed = slices.DeleteFunc(s.unflushed, func(u *unflushedBlob) bool { return slices.Contains(bs, u) })
	stats := make([]os.FileInfo, len(bs))
	for i, b := range bs {
		stats[i] = b.fi
	}
	s.unflushedMu.Unlock()
	for i, b := range bs {
		// Not sealed when a copy of it was listed again meanwhile.
		if seal && stats[i] != nil && b.f.Sync() == nil && !s.isUnflushed(b.d) {
			s.writeBlobSeal(b.d, stats[i])
		}
		b.f.Close()
	}
}
