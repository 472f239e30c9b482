package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCacheMountSharing(t *testing.T) {
	root := t.TempDir()
	a, b := open(t, root), open(t, root)
	ctx := context.Background()
	init := func(dir string) error { return os.WriteFile(filepath.Join(dir, "seed"), nil, 0o644) }

	d1, rel1, err := a.CacheMount(ctx, "/go/pkg", SharingShared, init)
	if err != nil {
		t.Fatal(err)
	}
	d2, rel2, err := b.CacheMount(ctx, "/go/pkg", SharingShared, init)
	if err != nil || d1 != d2 {
		t.Fatalf("shared: %s and %s, %v", d1, d2, err)
	}
	if _, err := os.Stat(filepath.Join(d1, "seed")); err != nil {
		t.Fatal("init did not run")
	}
	rel1()
	rel2()

	p1, relp, _ := a.CacheMount(ctx, "apt", SharingPrivate, nil)
	p2, relp2, _ := b.CacheMount(ctx, "apt", SharingPrivate, nil)
	if p1 == p2 {
		t.Error("private: a busy cache was shared")
	}
	relp()
	relp2()

	_, rell, _ := a.CacheMount(ctx, "npm", SharingLocked, nil)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, _, err := b.CacheMount(short, "npm", SharingLocked, nil); err == nil {
		t.Error("locked: two builds held the cache at once")
	}
	rell()
	if _, rel, err := b.CacheMount(ctx, "npm", SharingLocked, nil); err != nil {
		t.Errorf("locked, once released: %v", err)
	} else {
		rel()
	}
}

// A cache mount dir made by another build while this one sets up its own
// is kept, though still empty: it may already be mounted there. os.Rename
// checks for a directory first, then renames, which would replace one
// made in between; the loop makes that happen.
func TestCacheMountKeepsEmptyWinner(t *testing.T) {
	s := open(t, t.TempDir())
	for i := range 1000 {
		id := fmt.Sprint("/cache", i)
		sum := sha256.Sum256([]byte(id))
		other := filepath.Join(s.root, mountsDir, hex.EncodeToString(sum[:16]))
		var made error
		done := make(chan struct{})
		init := func(dir string) error {
			// Another build makes the dir meanwhile, empty.
			go func() { made = os.Mkdir(other, 0o755); close(done) }()
			return os.WriteFile(filepath.Join(dir, "seed"), nil, 0o644)
		}
		dir, release, err := s.CacheMount(context.Background(), id, SharingShared, init)
		<-done
		if err != nil {
			t.Fatal(err)
		}
		release()
		if _, err := os.Stat(filepath.Join(dir, "seed")); made == nil && err == nil {
			t.Fatalf("try %d: the other build's cache mount dir was replaced", i)
		}
	}
}
