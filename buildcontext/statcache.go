package buildcontext

import (
	"sync"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// statCacheVersion changes with the encoding or the meaning of entries
// (3: statcache_codec.go's encoding, not encoding/gob's).
const statCacheVersion = 3

// racyWindow is how recent a change may be for its stat data to be
// trusted later. Timestamps come from a coarse clock, so a file changed
// twice within one tick can keep the same ctime; an entry is only kept
// when the file's last change is older than this, as git does for its
// index.
const racyWindow = 2 * time.Second

// StatCache remembers the content digest of files by their stat data, so
// that an unchanged file is not read again, as git's index does. It keys
// on device, inode, size, mode, owner, mtime AND ctime: restoring an mtime
// by hand still changes the ctime, so a changed file is always read.
type StatCache struct {
	mu      sync.Mutex
	old     map[string]statEntry
	next    map[string]statEntry
	horizon int64 // ctime (ns) after which entries are too fresh to keep
	stored  bool  // an entry not in old went into next
}

type statEntry struct {
	Dev, Ino     uint64
	Size         int64
	Mode         uint32
	UID, GID     uint32
	Mtime, Ctime int64
	Digest       digest.Digest
	Xattrs       []Xattr
	Link         string
}

// NewStatCache restores a stat cache saved with Marshal. Data that cannot
// be decoded gives an empty cache.
func NewStatCache(data []byte) *StatCache {
	sc := &StatCache{
		old:     map[string]statEntry{},
		next:    map[string]statEntry{},
		horizon: time.Now().Add(-racyWindow).UnixNano(),
	}
	if entries, err := unmarshalStatCache(data); err == nil {
		sc.old = entries
	}
	return sc
}

// Changed reports whether Marshal would give other entries than the
// cache was made from: a file was hashed anew, or an old entry was not
// used. A warm build that finds every file as it was need not write the
// cache again.
func (sc *StatCache) Changed() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.stored || len(sc.next) != len(sc.old)
}

// Marshal encodes the entries used since NewStatCache.
func (sc *StatCache) Marshal() ([]byte, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return marshalStatCache(sc.next), nil
}

func sameStat(a, b statEntry) bool {
	return a.Dev == b.Dev && a.Ino == b.Ino && a.Size == b.Size && a.Mode == b.Mode &&
		a.UID == b.UID && a.GID == b.GID && a.Mtime == b.Mtime && a.Ctime == b.Ctime
}

func (sc *StatCache) lookup(host string, st *syscall.Stat_t) (statEntry, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e, ok := sc.old[host]
	if !ok || !sameStat(e, keyOf(st)) {
		return statEntry{}, false
	}
	sc.next[host] = e
	return e, true
}

func (sc *StatCache) store(host string, e statEntry) {
	if e.Ctime >= sc.horizon || e.Mtime >= sc.horizon {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.next[host] = e
	sc.stored = true
}
