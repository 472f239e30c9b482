package cache

import (
	"context"
	"errors"
	"os"
	"slices"
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

// A record whose file list (the blob its inputs name) is gone or damaged
// is flagged, and --repair removes it, as it removes a record whose layer
// blob is: the record's other blobs, and other records, are left alone.
func TestVerifyRecordFileList(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir(), Exclusive())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	withList := func(name string) (*Record, digest.Digest) {
		t.Helper()
		rec := addStep(t, s, name, 10, time.Now())
		d, err := s.PutFileList([]FileEntry{{Path: name + ".txt", Digest: digest.FromString(name).String()}})
		if err != nil {
			t.Fatal(err)
		}
		rec.Inputs = &Inputs{Position: 2, Files: d}
		if err := s.PutStep(rec); err != nil {
			t.Fatal(err)
		}
		return rec, d
	}
	missing, missingList := withList("a")
	damaged, damagedList := withList("b")
	kept, _ := withList("c")
	if got := verifyAll(t, s, false); len(got) != 0 {
		t.Fatalf("a sound store: %q", got)
	}

	if err := os.Remove(s.BlobPath(missingList)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.BlobPath(damagedList), []byte("[]"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"blob " + damagedList.String() + ": content has digest " + digest.FromString("[]").String(),
		"step " + missing.Key.String() + ": its file list blob " + missingList.String() + " is missing",
		"step " + damaged.Key.String() + ": its file list blob " + damagedList.String() + " is damaged",
	}
	if got := verifyAll(t, s, false); !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("verify:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := s.Step(missing.Key); err != nil {
		t.Fatalf("verify without --repair removed a record: %v", err)
	}

	got := verifyAll(t, s, true)
	for i := range want {
		want[i] += " (removed)"
	}
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("repair:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, rec := range []*Record{missing, damaged} {
		if _, err := s.Step(rec.Key); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: the record is still there: %v", rec.CreatedBy, err)
		}
		if !s.HasBlob(rec.Layer.Digest, rec.Layer.Size) {
			t.Errorf("%s: the repair removed its layer blob", rec.CreatedBy)
		}
	}
	if _, err := s.Step(kept.Key); err != nil {
		t.Errorf("a sound record was removed: %v", err)
	}
	if got := verifyAll(t, s, false); len(got) != 0 {
		t.Fatalf("after the repair: %q", got)
	}
}

func sorted(lines []string) []string {
	out := slices.Clone(lines)
	slices.Sort(out)
	return out
}
