package cache

import (
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"testing"

	"github.com/mybuild/mybuild/internal/xattr"
	digest "github.com/opencontainers/go-digest"
)

func testSeal() *seal {
	return &seal{Version: sealVersion, Start: 1700000000123456789, Userns: true, Entries: []sealEntry{
		{Path: "/", Mode: 0o40755, Ino: 2, Nlink: 3, Mtime: 1, Ctime: -2},
		{Path: "/bin/sh", Mode: 0o100755, UID: 1000, GID: 1000, Size: 1 << 40, Digest: digest.FromString("sh"),
			Xattrs: []xattr.Attr{{Name: "security.capability", Value: []byte{1, 0, 0, 2}}, {Name: "user.empty", Value: []byte{}}},
			Ino:    1 << 60, Nlink: 2, Mtime: 1700000000, Ctime: 1700000001},
		{Path: "/bin/ash", Mode: 0o100755, HardLink: "/bin/sh", Ino: 1 << 60, Nlink: 2},
		{Path: "/lib", Mode: 0o120777, Link: "usr/lib"},
		{Path: "/dev/null", Mode: 0o20666, Rdev: 0x103},
	}}
}

// A seal reads back as it was written.
func TestSealRoundTrip(t *testing.T) {
	want := testSeal()
	got, err := unmarshalSeal(marshalSeal(want))
	if err != nil {
		t.Fatal(err)
	}
	// An empty xattr value reads back as an empty one, as written.
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
}

// A seal cut short anywhere, or with bytes after its end, or in another
// format (gob's, before this one), is refused, with no panic.
func TestDamagedSealRefused(t *testing.T) {
	data := marshalSeal(testSeal())
	for n := range len(data) {
		if _, err := unmarshalSeal(data[:n]); !errors.Is(err, errSealFormat) {
			t.Fatalf("cut at %d of %d bytes: err = %v", n, len(data), err)
		}
	}
	if _, err := unmarshalSeal(append(data, 0)); !errors.Is(err, errSealFormat) {
		t.Errorf("a byte too many: err = %v", err)
	}
	gob := []byte("\x3f\xff\x81\x03\x01\x01\x04seal\x01\xff\x82")
	if _, err := unmarshalSeal(gob); !errors.Is(err, errSealFormat) {
		t.Errorf("a gob seal: err = %v", err)
	}
}

func FuzzUnmarshalSeal(f *testing.F) {
	f.Add(marshalSeal(testSeal()))
	f.Fuzz(func(t *testing.T, data []byte) {
		sl, err := unmarshalSeal(data)
		if err != nil {
			return
		}
		if again, err := unmarshalSeal(marshalSeal(sl)); err != nil || !reflect.DeepEqual(again, sl) {
			t.Errorf("a seal read from %q does not survive a round trip: %v", data, err)
		}
	})
}

// A damaged count asks for no more entries than the bytes left can hold.
func TestDamagedSealCountAllocatesLittle(t *testing.T) {
	data := binary.AppendUvarint([]byte(sealMagic), sealVersion)
	data = binary.AppendVarint(data, 0)
	data = append(data, 0)
	data = binary.AppendUvarint(data, 1000) // entries: fewer than the bytes after, more than they hold
	data = append(data, make([]byte, 1<<10)...)
	allocs := testing.AllocsPerRun(1, func() { unmarshalSeal(data) })
	if _, err := unmarshalSeal(data); !errors.Is(err, errSealFormat) {
		t.Fatalf("err = %v", err)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	before := m.TotalAlloc
	unmarshalSeal(data)
	runtime.ReadMemStats(&m)
	if got := m.TotalAlloc - before; got > 64<<10 {
		t.Errorf("a damaged seal of %d bytes allocated %d bytes (%v allocations)", len(data), got, allocs)
	}
}
