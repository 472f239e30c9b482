package layerdiff

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/overlay"
)

// roundTripLower and roundTripUpper cover every kind of entry a layer has.
var (
	roundTripLower = []fstest.Applier{
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/passwd", []byte("root"), 0o644),
		fstest.CreateFile("etc/group", []byte("root"), 0o644),
		fstest.CreateDir("opaque", 0o755),
		fstest.CreateFile("opaque/old", []byte("old"), 0o644),
		fstest.CreateDir("gone/sub", 0o755),
	}
	roundTripUpper = []fstest.Applier{
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/passwd", []byte("root:x:0:0"), 0o644),
		fstest.Whiteout("etc/group"),
		fstest.Whiteout("gone"),
		fstest.CreateDir("opaque", 0o750),
		fstest.Opaque("opaque"),
		fstest.CreateFile("opaque/new", []byte("new"), 0o640),
		fstest.Chown("opaque/new", 33, 44),
		fstest.CreateDir("bin", 0o755),
		fstest.CreateFile("bin/ping", []byte("ping"), 0o755|os.ModeSetuid),
		fstest.SetXattr("bin/ping", "security.capability", capNetBindService),
		fstest.SetXattr("bin/ping", "user.note", "kept"),
		fstest.SetXattr("bin/ping", "trusted.note", "dropped"),
		fstest.Link("bin/ping", "bin/ping6"),
		fstest.Symlink("ping", "bin/p"),
		fstest.Chown("bin/p", 7, 8),
		fstest.CreateDir("tmp", 0o777|os.ModeSticky),
		fstest.CreateDir("srv", 0o775|os.ModeSetgid),
		fstest.Chown("srv", 1000, 1000),
		fstest.Mkfifo("fifo", 0o600),
		fstest.Mknod("null", os.ModeDevice|os.ModeCharDevice|0o666, 1, 3),
		fstest.Mknod("loop0", os.ModeDevice|0o660, 7, 0),
		fstest.CreateDir("empty", 0o700),
		fstest.CreateSparseFile("sparse", 64<<20, 1<<20, 40<<20),
		fstest.CreateFile("ünïcødé "+long200, []byte("long"), 0o644),
		fstest.Chtimes("etc/passwd", time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)),
		fstest.Chtimes("bin", time.Date(2002, 2, 3, 4, 5, 6, 7, time.UTC)),
		fstest.Chtimes("bin/p", time.Date(2003, 2, 3, 4, 5, 6, 7, time.UTC)),
	}
)

// TestRoundTrip writes a layer, extracts it and writes the result again:
// both tars are the same bytes, and the trees agree on everything a layer
// keeps.
func TestRoundTrip(t *testing.T) {
	lower := stack(t, roundTripLower)
	upper := tree(t, roundTripUpper...)
	first := layerTar(t, upper, lower)

	out := t.TempDir()
	if err := Extract(t.Context(), bytes.NewReader(first), out, WithParents(lower)); err != nil {
		t.Fatal(err)
	}
	second := layerTar(t, out, lower)
	if !bytes.Equal(first, second) {
		a, _ := dumpTar(bytes.NewReader(first))
		b, _ := dumpTar(bytes.NewReader(second))
		t.Fatalf("tar of the extracted layer differs:\n%s\nvs\n%s", a, b)
	}

	// trusted.note is not part of a layer: drop it to compare the trees.
	if err := syscall.Removexattr(upper+"/bin/ping", "trusted.note"); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(t, out), describe(t, upper); got != want {
		t.Errorf("extracted tree:\n%s\nwant:\n%s", got, want)
	}
	opaque, err := overlay.IsOpaque(out + "/opaque")
	if err != nil || !opaque {
		t.Errorf("opaque dir: %v, %v", opaque, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(out+"/sparse", &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 64<<20 || st.Blocks*512 > 1<<20 {
		t.Errorf("sparse file: size %d, %d bytes allocated", st.Size, st.Blocks*512)
	}
}

// TestRoundTripSparse extracts a 1 GiB sparse file through a pipe from the
// writer: it stays sparse and the memory used does not follow its size.
func TestRoundTripSparse(t *testing.T) {
	const size = 1 << 30
	upper := tree(t, fstest.CreateSparseFile("big", size, 100<<20, size-4096))
	pr, pw := io.Pipe()
	go func() {
		err := Write(t.Context(), pw, upper, nil)
		pw.CloseWithError(err)
	}()
	out := t.TempDir()
	if err := Extract(t.Context(), pr, out); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(out+"/big", &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 1<<20 {
		t.Errorf("size %d, %d bytes allocated", st.Size, st.Blocks*512)
	}
	f, err := os.Open(out + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{100 << 20, size - 4096} {
		want := fmt.Sprintf("data@%d", off)
		got := make([]byte, len(want))
		if _, err := f.ReadAt(got, off); err != nil || string(got) != want {
			t.Errorf("at %d: %q, %v", off, got, err)
		}
	}
}
