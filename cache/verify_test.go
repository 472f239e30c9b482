package cache

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
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
	if got := verifyAll(t, x, true); len(got) != 1 || !strings.HasSuffix(got[0], "(removed; the next build that needs it unpacks it again)") {
		t.Fatalf("repair: %q", got)
	}
	if x.HasLayer(diffID) || !x.HasLayer(rec.Layer.DiffID) {
		t.Fatal("the repair removed the wrong layers")
	}
	if got := verifyAll(t, x, false); len(got) != 0 {
		t.Fatalf("after the repair: %q", got)
	}
}

// A repair hands each damaged layer, once removed, to Unpack, and says
// what came of it.
func TestVerifyRepairUnpacks(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "(unpacked again from its blob)"},
		{ErrNotFound, "(removed; no step record tells what lies below it, so the next build that needs it unpacks it again)"},
		{errors.New("no space left"), "(removed; unpacking it again failed (no space left), so the next build that needs it unpacks it again)"},
	} {
		s, err := Open(context.Background(), t.TempDir(), Exclusive())
		if err != nil {
			t.Fatal(err)
		}
		diffID := sealedLayer(t, s)
		os.Remove(s.sealPath(diffID))
		var asked []string
		var lines []string
		_, err = s.Verify(context.Background(), VerifyOptions{Repair: true,
			Report: func(p Problem) { lines = append(lines, p.String()) },
			Unpack: func(_ context.Context, d digest.Digest) error {
				if s.HasLayer(d) {
					t.Error("Unpack was called before the layer was removed")
				}
				asked = append(asked, d.String())
				return tc.err
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(asked) != 1 || asked[0] != diffID.String() {
			t.Errorf("Unpack was asked for %q, want %s", asked, diffID)
		}
		if len(lines) != 1 || !strings.HasSuffix(lines[0], tc.want) {
			t.Errorf("unpack error %v: verify printed %q, want a line ending %q", tc.err, lines, tc.want)
		}
		s.Close()
	}
}
