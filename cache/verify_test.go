package cache

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func verifyAll(t *testing.T, s *Store, repair bool) []string {
	t.Helper()
	var lines []string
	_, err := s.Verify(context.Background(), VerifyOptions{Repair: repair, Report: func(p Problem) { lines = append(lines, p.String()) }})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// A layer without a seal is reported, and --repair removes it; a repair
// needs the store to itself.
func TestVerifyUnsealedLayer(t *testing.T) {
	root := t.TempDir()
	s, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	rec := addStep(t, s, "a", 10, time.Now())
	diffID := sealedLayer(t, s)
	if got := verifyAll(t, s, false); len(got) != 0 {
		t.Fatalf("a sound store: %q", got)
	}
	if _, err := s.Verify(context.Background(), VerifyOptions{Repair: true}); err == nil {
		t.Fatal("a repair in a store opened for builds")
	}
	os.Remove(s.sealPath(diffID))
	got := verifyAll(t, s, false)
	if len(got) != 1 || got[0] != "layer "+diffID.String()+": has no seal (unpacked by an older mybuild, or by a build that crashed)" {
		t.Fatalf("verify: %q", got)
	}
	s.Close()

	x, err := Open(context.Background(), root, Exclusive())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := verifyAll(t, x, true); len(got) != 1 || !strings.HasSuffix(got[0], "(removed; the next build unpacks it again)") {
		t.Fatalf("repair: %q", got)
	}
	if x.HasLayer(diffID) || !x.HasLayer(rec.Layer.DiffID) {
		t.Fatal("the repair removed the wrong layers")
	}
	if got := verifyAll(t, x, false); len(got) != 0 {
		t.Fatalf("after the repair: %q", got)
	}
}
