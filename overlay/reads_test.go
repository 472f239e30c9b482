package overlay

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// A recording stack notes every path looked up on the way, symlinks
// followed included, every directory listed and every file opened; a
// stack put above it records in the same place, a plain one not at all.
func TestReadsRecord(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	mkfile(t, filepath.Join(lower, "opt/app/conf"), "c")
	if err := os.Symlink("opt/app", filepath.Join(lower, "app")); err != nil {
		t.Fatal(err)
	}
	reads := NewReads()
	rec := NewStack(lower).Recording(reads)
	if _, err := rec.ReadFile("/app/conf"); err != nil {
		t.Fatal(err)
	}
	view := rec.Above(upper)
	if _, err := view.ReadDir("/opt"); err != nil {
		t.Fatal(err)
	}
	if _, err := view.Lstat("/missing/x"); err == nil {
		t.Fatal("/missing/x exists")
	}
	if _, err := NewStack(lower).Lstat("/unrecorded"); err == nil {
		t.Fatal("/unrecorded exists")
	}
	want := []Read{
		{"/app", ReadLookup},
		{"/missing/x", ReadLookup},
		{"/opt", ReadLookup | ReadList},
		{"/opt/app", ReadLookup},
		{"/opt/app/conf", ReadLookup | ReadContent},
	}
	if got := reads.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("recorded %v, want %v", got, want)
	}
}
