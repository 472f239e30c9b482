package overlay

import (
	"slices"
	"strings"
	"sync"
)

// Reads records what the readers of a Stack (see Stack.Recording) looked
// at in the merged view: every path looked up, every directory listed and
// every file opened. A writer whose choices depend on the layers below
// only through a Stack makes the same files on any other stack that shows
// the same at those paths (see fswrite.ViewDigest).
type Reads struct {
	mu    sync.Mutex
	paths map[string]ReadKind
}

// ReadKind says how a path was read: a set of the flags below.
type ReadKind uint8

const (
	// ReadLookup is a lookup of the path's entry (Lstat).
	ReadLookup ReadKind = 1 << iota
	// ReadList is a listing of the directory (ReadDir).
	ReadList
	// ReadContent is an open of the file, to read it (Open, ReadFile).
	ReadContent
)

// Read is one path of a record, and how it was read.
type Read struct {
	Path string
	Kind ReadKind
}

// NewReads returns an empty record.
func NewReads() *Reads { return &Reads{paths: map[string]ReadKind{}} }

func (r *Reads) note(p string, k ReadKind) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.paths[p] |= k
	r.mu.Unlock()
}

// List returns the paths recorded so far, sorted.
func (r *Reads) List() []Read {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	out := make([]Read, 0, len(r.paths))
	for p, k := range r.paths {
		out = append(out, Read{Path: p, Kind: k})
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Read) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Recording returns s, whose lookups, listings and reads are recorded in r.
func (s *Stack) Recording(r *Reads) *Stack {
	return &Stack{dirs: s.dirs, reads: r}
}

// Above returns the view of dir on top of s, recorded where s is.
func (s *Stack) Above(dir string) *Stack {
	return &Stack{dirs: append([]string{dir}, s.dirs...), reads: s.reads}
}
