package buildcontext

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

func testStatEntries(n int) map[string]statEntry {
	entries := map[string]statEntry{}
	for i := range n {
		entries[fmt.Sprintf("/src/dir%d/file%d.go", i/100, i)] = statEntry{Dev: 64769, Ino: uint64(1<<40 + i), Size: int64(i * 37),
			Mode: 0o100644, UID: 1000, GID: 1000, Mtime: 1700000000123456789 + int64(i), Ctime: -1,
			Digest: digest.FromString(fmt.Sprint(i))}
	}
	entries["/src/link"] = statEntry{Mode: 0o120777, Link: "dir0/file0.go"}
	entries["/src/caps"] = statEntry{Mode: 0o100755, Xattrs: []Xattr{{Name: "security.capability", Value: []byte{1, 2}}, {Name: "user.empty", Value: []byte{}}}}
	return entries
}

// A stat cache reads back as it was written.
func TestStatCacheRoundTrip(t *testing.T) {
	want := testStatEntries(50)
	got, err := unmarshalStatCache(marshalStatCache(want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %d entries, unlike the %d written", len(got), len(want))
	}
}

// A stat cache cut short anywhere, with a byte too many, of another
// version or in gob's encoding is refused; NewStatCache then starts empty.
func TestDamagedStatCacheRefused(t *testing.T) {
	data := marshalStatCache(testStatEntries(3))
	for n := range len(data) {
		if _, err := unmarshalStatCache(data[:n]); !errors.Is(err, errStatCacheFormat) {
			t.Fatalf("cut at %d of %d bytes: err = %v", n, len(data), err)
		}
	}
	if _, err := unmarshalStatCache(append(data, 0)); !errors.Is(err, errStatCacheFormat) {
		t.Errorf("a byte too many: err = %v", err)
	}
	other := append([]byte(statCacheMagic), statCacheVersion+1)
	if _, err := unmarshalStatCache(append(other, data[len(statCacheMagic)+1:]...)); !errors.Is(err, errStatCacheFormat) {
		t.Errorf("another version: err = %v", err)
	}
	if sc := NewStatCache([]byte("\x3f\xff\x81\x03\x01\x01\x0dstatCacheFile")); len(sc.old) != 0 {
		t.Errorf("a gob stat cache gave %d entries", len(sc.old))
	}
}

func FuzzUnmarshalStatCache(f *testing.F) {
	f.Add(marshalStatCache(testStatEntries(3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := unmarshalStatCache(data)
		if err != nil {
			return
		}
		if again, err := unmarshalStatCache(marshalStatCache(entries)); err != nil || !reflect.DeepEqual(again, entries) {
			t.Errorf("a stat cache read from %q does not survive a round trip: %v", data, err)
		}
	})
}

// BenchmarkStatCacheLoad reads the stat cache of a context of 11,500
// files, as a warm build of the monorepo bench does first.
func BenchmarkStatCacheLoad(b *testing.B) {
	data := marshalStatCache(testStatEntries(11500))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if sc := NewStatCache(data); len(sc.old) != 11502 {
			b.Fatal(len(sc.old))
		}
	}
}

// BenchmarkStatCacheSave writes the stat cache of a context of 11,500
// files, as a build that hashed a file anew does last.
func BenchmarkStatCacheSave(b *testing.B) {
	entries := testStatEntries(11500)
	b.ReportAllocs()
	for b.Loop() {
		marshalStatCache(entries)
	}
}
