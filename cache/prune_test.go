package cache

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
)

// addStep stores a step whose layer has a blob of size bytes and an
// unpacked dir, last used at the given time.
func addStep(t *testing.T, s *Store, name string, size int, used time.Time) *Record {
	t.Helper()
	blob := bytes.Repeat([]byte(name[:1]), size)
	d := digest.FromBytes(blob)
	if err := s.PutBlob(d, int64(size), bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	diffID := digest.FromString("diff " + name)
	dir, _ := s.TempDir("l-")
	os.WriteFile(filepath.Join(dir, "f"), blob, 0o644)
	if _, err := s.CommitLayer(dir, diffID); err != nil {
		t.Fatal(err)
	}
	rec := &Record{Key: NewKey("test").String("name", name).Sum(), CreatedBy: "RUN " + name,
		Layer: &layer.Layer{MediaType: "x", Digest: d, DiffID: diffID, Size: int64(size)}}
	if err := s.PutStep(rec); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(s.stepPath(rec.Key), used, used)
	return rec
}

func keys(t *testing.T, s *Store) string {
	recs, err := s.Steps()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, strings.TrimPrefix(r.CreatedBy, "RUN "))
	}
	return strings.Join(names, " ")
}

func TestPrune(t *testing.T) {
	now := time.Now()
	setup := func(t *testing.T) string {
		root := t.TempDir()
		s := open(t, root)
		addStep(t, s, "old", 100000, now.Add(-72*time.Hour))
		addStep(t, s, "mid", 100000, now.Add(-2*time.Hour))
		addStep(t, s, "new", 100000, now)
		// An orphan blob, as a crash between blob and record leaves.
		orphan := []byte("orphan")
		s.PutBlob(digest.FromBytes(orphan), 6, bytes.NewReader(orphan))
		s.Close()
		return root
	}
	prune := func(t *testing.T, root string, opts PruneOptions) (*Store, PruneReport) {
		s, err := Open(context.Background(), root, Exclusive())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		rep, err := s.Prune(opts)
		if err != nil {
			t.Fatal(err)
		}
		return s, rep
	}

	t.Run("orphans only", func(t *testing.T) {
		s, rep := prune(t, setup(t), PruneOptions{})
		if rep.Steps != 0 || rep.Blobs != 1 || keys(t, s) != "new mid old" {
			t.Fatalf("report %+v, steps left %q", rep, keys(t, s))
		}
	})
	t.Run("until", func(t *testing.T) {
		s, rep := prune(t, setup(t), PruneOptions{Until: 24 * time.Hour})
		if rep.Steps != 1 || keys(t, s) != "new mid" || rep.Blobs != 2 || rep.Layers != 1 {
			t.Fatalf("report %+v, steps left %q", rep, keys(t, s))
		}
	})
	t.Run("keep storage", func(t *testing.T) {
		root := setup(t)
		s, _ := Open(context.Background(), root)
		u, _ := s.Usage()
		s.Close()
		perStep := (u.BlobBytes + u.LayerBytes) / 3
		s, rep := prune(t, root, PruneOptions{KeepStorage: perStep + perStep/2})
		if keys(t, s) != "new" || rep.Steps != 2 {
			t.Fatalf("report %+v, steps left %q", rep, keys(t, s))
		}
		u, _ = s.Usage()
		if u.Blobs != 1 || u.Layers != 1 {
			t.Fatalf("usage after prune: %+v", u)
		}
	})
	t.Run("all", func(t *testing.T) {
		s, _ := prune(t, setup(t), PruneOptions{All: true})
		u, err := s.Usage()
		if err != nil || u.Steps+u.Blobs+u.Layers != 0 {
			t.Fatalf("usage after prune --all: %+v, %v", u, err)
		}
	})
}

func TestPruneWaitsForBuilds(t *testing.T) {
	root := t.TempDir()
	open(t, root) // a running build
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Open(ctx, root, Exclusive()); err == nil {
		t.Fatal("prune got the store while a build held it")
	}
}

// locks/ gains a file per key a build computes; any prune empties it, as
// no build holds a lock while prune holds the store.
func TestPruneEmptiesLocks(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	unlock, err := s.LockStep(context.Background(), NewKey("run").Sum())
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	s.Close()
	s, err = Open(context.Background(), root, Exclusive())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Prune(PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, locksDir)); len(entries) != 0 {
		t.Errorf("locks left: %v", entries)
	}
}
