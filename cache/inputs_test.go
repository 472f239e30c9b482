package cache

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"
)

// A file list is stored once however many records name it, read back as
// it was, and kept by prune as long as a record names it.
func TestFileListsAreSharedAndPruned(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir(), Exclusive())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	files := []FileEntry{{Path: "src/a.go", Digest: "0123456789abcdef"}, {Path: "src/b.go", Digest: "fedcba9876543210"}}
	d1, err := s.PutFileList(files)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.PutFileList(slices.Clone(files))
	if err != nil || d2 != d1 {
		t.Fatalf("the same list twice: %s, %s (%v)", d1, d2, err)
	}
	got, err := s.FileList(d1)
	if err != nil || !slices.Equal(got, files) {
		t.Fatalf("read back %v (%v)", got, err)
	}
	a := addStep(t, s, "a", 10, time.Now())
	b := addStep(t, s, "b", 10, time.Now())
	for _, r := range []*Record{a, b} {
		r.Inputs = &Inputs{Position: 2, Files: d1}
		if err := s.PutStep(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Prune(PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FileList(d1); err != nil {
		t.Fatalf("prune removed a file list two records name: %v", err)
	}
	s.DeleteStep(a.Key)
	s.DeleteStep(b.Key)
	if _, err := s.Prune(PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FileList(d1); err != ErrNotFound {
		t.Errorf("a file list no record names was kept: %v", err)
	}
	if _, err := os.Stat(s.BlobPath(d1)); !os.IsNotExist(err) {
		t.Errorf("its blob is still there: %v", err)
	}
}
