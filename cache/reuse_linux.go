package cache

import (
	"fmt"
	"path/filepath"

	"github.com/mybuild/mybuild/internal/userns"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Reusable is an unpacked layer whose regular files a new layer may
// hard-link rather than write again: the files a COPY copied last time,
// for the same COPY after an edit. Only a file the layer's seal vouches
// for is offered: sealed with no xattrs, no hard link inside its layer,
// content not racy, and its stat data (ctime and link count included)
// still what the seal saw, so unchanged since.
//
// Linking changes the ctime and link count of the inode, so the layer's
// seal no longer vouches for it by its stat data: its next check reads
// it again, finds it whole, and keeps a new seal (see checkSeal).
type Reusable struct {
	dir   string
	files map[string]sealEntry // by path in the layer
}

// FileMeta is what a new layer's regular file is to have: st_mode (type
// and permission bits), owner, mtime in nanoseconds, and the digest of
// its content.
type FileMeta struct {
	Mode     uint32
	UID, GID uint32
	Mtime    int64
	Digest   digest.Digest
}

// Reusable returns the regular files of the unpacked layer diffID that a
// new layer may link (see Reusable). ErrUnsealed: the layer has no seal,
// or is not unpacked; ErrOtherView: it was sealed in another user
// namespace view, where owners differ.
func (s *Store) Reusable(diffID digest.Digest) (*Reusable, error) {
	sl, err := s.readSeal(diffID)
	if err != nil {
		return nil, err
	}
	if sl.Userns != userns.Inside() {
		return nil, fmt.Errorf("layer %s: %w", diffID, ErrOtherView)
	}
	linked := map[string]bool{}
	for _, e := range sl.Entries {
		if e.HardLink != "" {
			linked[e.HardLink] = true
		}
	}
	r := &Reusable{dir: s.LayerPath(diffID), files: map[string]sealEntry{}}
	for _, e := range sl.Entries {
		if e.Mode&unix.S_IFMT == unix.S_IFREG && e.Size > 0 && e.HardLink == "" && !linked[e.Path] &&
			len(e.Xattrs) == 0 && e.Digest != "" && e.Ctime < sl.Start {
			r.files[e.Path] = e
		}
	}
	return r, nil
}

// File returns where the layer holds, at p (absolute in the layer), a
// regular file with exactly want's metadata and content, as its seal saw
// it and as it still is; ok is false when there is none.
func (r *Reusable) File(p string, want FileMeta) (host string, ok bool) {
	e, found := r.files[p]
	if !found || e.Mode != want.Mode || e.UID != want.UID || e.GID != want.GID ||
		e.Mtime != want.Mtime || e.Digest != want.Digest {
		return "", false
	}
	host = filepath.Join(r.dir, filepath.FromSlash(p))
	var st unix.Stat_t
	if unix.Lstat(host, &st) != nil || !sameStat(e, statEntry(p, &st, map[uint64]string{})) {
		return "", false
	}
	return host, true
}
