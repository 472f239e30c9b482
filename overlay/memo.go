package overlay

import "sync"

// Memoized returns s, which looks each path up once: for layer dirs
// that do not change while it is used. Resolving a path looks up each
// of its parents, and a stack of many layers costs one lstat per layer
// for each path that most of them lack.
func (s *Stack) Memoized() *Stack {
	return &Stack{dirs: s.dirs, reads: s.reads, memo: &lookups{seen: map[string]lookup{}}}
}

// lookups are the answers of Lstat so far, by clean path.
type lookups struct {
	mu   sync.Mutex
	seen map[string]lookup
}

type lookup struct {
	e   Entry
	err error
}

func (l *lookups) lstat(p string, look func(string) (Entry, error)) (Entry, error) {
	l.mu.Lock()
	got, ok := l.seen[p]
	l.mu.Unlock()
	if ok {
		return got.e, got.err
	}
	e, err := look(p)
	l.mu.Lock()
	l.seen[p] = lookup{e, err}
	l.mu.Unlock()
	return e, err
}
