package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// putInputs stores a record of a step with these inputs, and returns its
// key.
func putInputs(t *testing.T, s *Store, position int, instruction string) digest.Digest {
	t.Helper()
	key := NewKey("run").String("at", instruction).String("pos", string(rune('a'+position))).Sum()
	rec := &Record{Key: key, CreatedBy: instruction, Created: time.Now().UTC(), Inputs: &Inputs{
		Context: "/ctx", Dockerfile: "/ctx/Dockerfile", Stage: "stage-0", Position: position,
		Instruction: instruction, Fields: map[string]digest.Digest{"instruction": digest.FromString(instruction)}}}
	if err := s.PutStep(rec); err != nil {
		t.Fatal(err)
	}
	return key
}

func earlierKeys(t *testing.T, s *Store, position int, instruction string) []digest.Digest {
	t.Helper()
	recs, err := s.Earlier(&Inputs{Context: "/ctx", Dockerfile: "/ctx/Dockerfile", Stage: "stage-0",
		Position: position, Instruction: instruction})
	if err != nil {
		t.Fatal(err)
	}
	var keys []digest.Digest
	for _, r := range recs {
		keys = append(keys, r.Key)
	}
	slices.Sort(keys)
	return keys
}

// Earlier gives the records of the same position or instruction, and
// reads no other: a damaged record elsewhere is left as it is (a read
// would have deleted it).
func TestEarlierReadsTheIndexedRecordsOnly(t *testing.T) {
	s := open(t, t.TempDir())
	atTwo := putInputs(t, s, 2, "RUN make")
	sameInstr := putInputs(t, s, 5, "RUN make")
	other := putInputs(t, s, 3, "RUN test")
	// A cache made before the index: made at the first Earlier.
	if err := os.RemoveAll(filepath.Join(s.root, indexDir)); err != nil {
		t.Fatal(err)
	}
	want := []digest.Digest{atTwo, sameInstr}
	slices.Sort(want)
	if got := earlierKeys(t, s, 2, "RUN make"); !slices.Equal(got, want) {
		t.Fatalf("Earlier = %v, want %v", got, want)
	}
	// Indexed now: a damaged record at another position is never read.
	if err := os.WriteFile(s.stepPath(other), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	added := putInputs(t, s, 2, "RUN make install")
	want = append(want, added)
	slices.Sort(want)
	if got := earlierKeys(t, s, 2, "RUN make"); !slices.Equal(got, want) {
		t.Errorf("Earlier = %v, want %v", got, want)
	}
	if _, err := os.Stat(s.stepPath(other)); err != nil {
		t.Errorf("Earlier read a record at another position, with another instruction: %v", err)
	}
}

// A record deleted is not given, and prune leaves no index naming the
// records it deleted: the next Earlier makes it again.
func TestEarlierAfterDeleteAndPrune(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	gone := putInputs(t, s, 2, "RUN make")
	kept := putInputs(t, s, 2, "RUN make all")
	if err := s.DeleteStep(gone); err != nil {
		t.Fatal(err)
	}
	if got := earlierKeys(t, s, 2, "RUN make"); !slices.Equal(got, []digest.Digest{kept}) {
		t.Fatalf("Earlier = %v, want %v", got, []digest.Digest{kept})
	}
	s.Close()
	ex, err := Open(t.Context(), root, Exclusive())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Prune(PruneOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	ex.Close()
	if _, err := os.Stat(filepath.Join(root, indexDir)); !os.IsNotExist(err) {
		t.Errorf("prune left the index: %v", err)
	}
	s = open(t, root)
	if got := earlierKeys(t, s, 2, "RUN make"); len(got) != 0 {
		t.Errorf("Earlier after prune --all = %v", got)
	}
}

// Of each index, Earlier reads the newest earlierPerIndex records: a
// position of a Dockerfile edited again and again does not make every
// miss there read all its history.
func TestEarlierReadsTheNewestOfEachIndex(t *testing.T) {
	s := open(t, t.TempDir())
	var keys []digest.Digest
	for i := range earlierPerIndex + 6 {
		keys = append(keys, putInputs(t, s, 2, fmt.Sprintf("RUN make %d", i)))
	}
	got := earlierKeys(t, s, 2, "RUN make 0")
	want := append([]digest.Digest{keys[0]}, keys[len(keys)-earlierPerIndex:]...) // the oldest by its instruction
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Earlier gave %d records, want the %d newest at the position and the one of the instruction", len(got), earlierPerIndex)
	}
}
