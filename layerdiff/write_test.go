package layerdiff

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/overlay"
)

// capNetBindService is a version 2 security.capability value granting
// CAP_NET_BIND_SERVICE, effective.
var capNetBindService = string([]byte{
	0x01, 0x00, 0x00, 0x02, // magic: revision 2, effective
	0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, // permitted, inheritable (low word)
	0, 0, 0, 0, 0, 0, 0, 0, // high word
})

var (
	long100 = strings.Repeat("d", 100)
	long200 = strings.Repeat("n", 200)
)

type writeCase struct {
	name  string
	lower [][]fstest.Applier // newest first
	upper []fstest.Applier
}

var writeCases = []writeCase{
	{
		name: "types",
		upper: []fstest.Applier{
			fstest.CreateDir("bin", 0o755),
			fstest.CreateFile("bin/tool", []byte("#!/bin/sh\n"), 0o755|os.ModeSetuid),
			fstest.Symlink("tool", "bin/alias"),
			fstest.Symlink("/etc/../nowhere", "dangling"),
			fstest.CreateDir("shared", 0o775|os.ModeSetgid),
			fstest.CreateDir("tmp", 0o777|os.ModeSticky),
			fstest.CreateDir("empty", 0o700),
			fstest.Mkfifo("fifo", 0o640),
			fstest.CreateDir("dev", 0o755),
			fstest.Mknod("dev/null", os.ModeDevice|os.ModeCharDevice|0o666, 1, 3),
			fstest.Mknod("dev/sda1", os.ModeDevice|0o660, 8, 1),
			fstest.Mknod("dev/sock", os.ModeSocket|0o755, 0, 0), // no tar type: left out
			fstest.CreateFile("owned", []byte("x"), 0o600),
			fstest.Chown("owned", 1000, 2000),
			fstest.CreateFile("big-ids", nil, 0o644),
			fstest.Chown("big-ids", 3000000, 4000000), // beyond ustar's octal fields
			fstest.CreateFile("old", []byte("old"), 0o644),
			fstest.Chtimes("old", time.Date(1990, 5, 6, 7, 8, 9, 500_000_000, time.UTC)),
			fstest.Chtimes("dangling", time.Date(1991, 1, 1, 0, 0, 0, 0, time.UTC)),
		},
	},
	{
		name: "hardlinks",
		upper: []fstest.Applier{
			fstest.CreateDir("hl", 0o755),
			fstest.CreateFile("hl/a", []byte("shared content"), 0o644),
			fstest.Link("hl/a", "hl/0"), // first in lexical order: carries the content
			fstest.Link("hl/a", "hl/z"),
			fstest.CreateDir("other", 0o755),
			fstest.Link("hl/a", "other/a"),
			fstest.CreateFile("single", []byte("one link"), 0o644),
		},
	},
	{
		name: "xattrs",
		upper: []fstest.Applier{
			fstest.CreateFile("f", []byte("f"), 0o755),
			fstest.SetXattr("f", "user.keep", "kept"),
			fstest.SetXattr("f", "user.binary", "\x00\x01\xff"),
			fstest.SetXattr("f", "security.capability", capNetBindService),
			fstest.SetXattr("f", "trusted.drop", "host state"),
			fstest.SetXattr("f", "trusted.overlay.origin", "overlay bookkeeping"),
			fstest.SetXattr("f", "user.overlay.opaque", "y"),
			fstest.CreateDir("d", 0o755),
			fstest.SetXattr("d", "user.dir", "on a dir"),
			fstest.SetXattr("d", "trusted.overlay.impure", "y"),
		},
	},
	{
		name: "names",
		upper: []fstest.Applier{
			fstest.CreateFile(long200, []byte("long name"), 0o644),
			fstest.CreateDir(long100+"/"+long100+"/"+long100, 0o755),
			fstest.CreateFile(long100+"/"+long100+"/"+long100+"/file", []byte("deep"), 0o644),
			fstest.Symlink(long100+"/"+long100+"/"+long100+"/file", "to-deep"),
			fstest.CreateDir("ünïcødé", 0o755),
			fstest.CreateFile("ünïcødé/日本語.txt", []byte("こんにちは"), 0o644),
			fstest.CreateFile("emoji-🙂", []byte(":)"), 0o644),
			fstest.CreateFile("with space", nil, 0o644),
			fstest.CreateFile("a.txt", nil, 0o644),
			fstest.CreateDir("a", 0o755),
			fstest.CreateFile("a/b", nil, 0o644), // walk order: a/, a/b, a.txt
		},
	},
	{
		name: "whiteouts",
		lower: [][]fstest.Applier{{
			fstest.CreateDir("etc", 0o755),
			fstest.CreateFile("etc/passwd", []byte("root:x:0:0"), 0o644),
			fstest.CreateFile("etc/group", []byte("root:x:0:"), 0o644),
			fstest.CreateDir("var/log", 0o755),
			fstest.CreateFile("var/log/a", nil, 0o644),
			fstest.CreateFile("var/log/b", nil, 0o644),
			fstest.CreateDir("gone/sub", 0o755),
			fstest.CreateFile("gone/sub/file", nil, 0o644),
		}},
		upper: []fstest.Applier{
			fstest.CreateDir("etc", 0o755),
			fstest.CreateFile("etc/passwd", []byte("root:x:0:0:new"), 0o644),
			fstest.Whiteout("etc/group"),
			fstest.CreateDir("var/log", 0o755),
			fstest.Whiteout("var/log/a"),
			fstest.Whiteout("gone"),
			fstest.Whiteout("never-existed"), // kept: a whiteout never does harm
		},
	},
	{
		name: "opaque",
		lower: [][]fstest.Applier{{
			fstest.CreateDir("replaced", 0o755),
			fstest.CreateFile("replaced/old", nil, 0o644),
			fstest.CreateFile("was-file", nil, 0o644),
			fstest.CreateDir("kept", 0o755),
			fstest.CreateFile("kept/old", nil, 0o644),
		}},
		upper: []fstest.Applier{
			// rm -rf replaced; mkdir replaced: the kernel marks it opaque.
			fstest.CreateDir("replaced", 0o755),
			fstest.Opaque("replaced"),
			fstest.CreateFile("replaced/new", []byte("new"), 0o644),
			// A new directory, marked opaque too: nothing below to hide.
			fstest.CreateDir("fresh", 0o755),
			fstest.Opaque("fresh"),
			fstest.CreateFile("fresh/new", nil, 0o644),
			// A file replaced by a directory: no directory below to hide.
			fstest.CreateDir("was-file", 0o755),
			fstest.Opaque("was-file"),
			// Merged as usual.
			fstest.CreateDir("kept", 0o755),
			fstest.CreateFile("kept/new", nil, 0o644),
		},
	},
	{
		// A directory deleted by an earlier layer and made again now: no
		// directory is visible below, so the opaque mark says nothing.
		name: "recreated",
		lower: [][]fstest.Applier{
			{fstest.Whiteout("d")},
			{fstest.CreateDir("d", 0o755), fstest.CreateFile("d/old", nil, 0o644)},
		},
		upper: []fstest.Applier{
			fstest.CreateDir("d", 0o700),
			fstest.Opaque("d"),
			fstest.CreateFile("d/new", nil, 0o644),
		},
	},
}

func TestWriteGolden(t *testing.T) {
	for _, tc := range writeCases {
		t.Run(tc.name, func(t *testing.T) {
			upper := tree(t, tc.upper...)
			var lower *overlay.Stack
			if tc.lower != nil {
				lower = stack(t, tc.lower...)
			}
			got, err := dumpTar(bytes.NewReader(layerTar(t, upper, lower, WithSourceDateEpoch(epoch))))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, got)
		})
	}
}

func TestWriteDeterministic(t *testing.T) {
	upper := tree(t, writeCases[0].upper...)
	a := layerTar(t, upper, nil, WithSourceDateEpoch(epoch))
	b := layerTar(t, upper, nil, WithSourceDateEpoch(epoch))
	if !bytes.Equal(a, b) {
		t.Error("two writes of the same tree differ")
	}
}

// TestWriteMtime checks truncation without clamping: mtimes keep their
// seconds, older ones are not moved forward by the epoch.
func TestWriteMtime(t *testing.T) {
	recent := time.Date(2024, 2, 3, 4, 5, 6, 999_999_999, time.UTC)
	upper := tree(t,
		fstest.CreateFile("recent", nil, 0o644), fstest.Chtimes("recent", recent),
		fstest.CreateFile("old", nil, 0o644), fstest.Chtimes("old", epoch.Add(-time.Hour)),
	)
	got, err := dumpTar(bytes.NewReader(layerTar(t, upper, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `"recent" mode=0644 uid=0 gid=0 size=0 mtime=2024-02-03T04:05:06Z`) {
		t.Errorf("mtime not truncated to seconds:\n%s", got)
	}
	got, err = dumpTar(bytes.NewReader(layerTar(t, upper, nil, WithSourceDateEpoch(epoch))))
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		`reg "old" mode=0644 uid=0 gid=0 size=0 mtime=1999-12-31T23:00:00Z` + "\n" +
		`reg "recent" mode=0644 uid=0 gid=0 size=0 mtime=2000-01-01T00:00:00Z` + "\n"
	if got != want {
		t.Errorf("clamped:\n%s\nwant\n%s", got, want)
	}
}

func TestWriteEmpty(t *testing.T) {
	upper := tree(t, fstest.Mknod("sock", os.ModeSocket|0o755, 0, 0))
	var buf bytes.Buffer
	if err := Write(t.Context(), &buf, upper, nil); err != nil {
		t.Fatal(err)
	}
	got, err := dumpTar(&buf)
	if err != nil || got != "" {
		t.Errorf("an upper dir holding only a socket: %q, %v; want an empty tar", got, err)
	}

	buf.Reset()
	if err := Write(t.Context(), &buf, tree(t, fstest.CreateFile("f", nil, 0o644)), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := dumpTar(&buf); err != nil || got == "" {
		t.Errorf("one file: %q, %v", got, err)
	}
}

func TestWriteRefusesRedirectAndMetacopy(t *testing.T) {
	for name, upper := range map[string][]fstest.Applier{
		"redirect": {fstest.CreateDir("a/moved", 0o755), fstest.SetXattr("a/moved", overlay.RedirectXattr, "/b")},
		"metacopy": {fstest.CreateFile("f", nil, 0o644), fstest.SetXattr("f", overlay.MetacopyXattr, "")},
	} {
		t.Run(name, func(t *testing.T) {
			err := Write(t.Context(), io.Discard, tree(t, upper...), nil)
			if !errors.Is(err, ErrRedirectOrMetacopy) {
				t.Fatalf("err = %v, want ErrRedirectOrMetacopy", err)
			}
			if !strings.Contains(err.Error(), "redirect_dir=off,metacopy=off") {
				t.Errorf("message does not say how mybuild mounts: %v", err)
			}
		})
	}
}

// TestWriteSparse writes a 1 GiB file holding a few bytes: the tar has all
// of it, and neither the writer nor the memory grows with it.
func TestWriteSparse(t *testing.T) {
	const size = 1 << 30
	upper := tree(t, fstest.CreateSparseFile("sparse", size, 0, 512<<20, size-10))
	var st syscall.Stat_t
	if err := syscall.Stat(upper+"/sparse", &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 > 1<<20 {
		t.Fatalf("fixture is not sparse: %d blocks", st.Blocks)
	}

	pr, pw := io.Pipe()
	go func() {
		err := Write(t.Context(), pw, upper, nil, WithSourceDateEpoch(epoch))
		pw.CloseWithError(err)
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := dumpTar(pr)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	golden(t, "sparse", got)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("writing a 1 GiB sparse file allocated %d MiB", alloc>>20)
	}
	if grown := after.Sys - before.Sys; grown > 64<<20 {
		t.Errorf("memory obtained from the OS grew by %d MiB", grown>>20)
	}
}

// Every name of a multiply-linked file carries its xattrs: the first as a
// file, the others as hard links, with the xattrs read for the first.
func TestWriteHardLinkXattrs(t *testing.T) {
	upper := tree(t,
		fstest.CreateFile("a", []byte("x"), 0o644),
		fstest.SetXattr("a", "user.keep", "kept"),
		fstest.SetXattr("a", "trusted.drop", "host state"),
		fstest.Link("a", "b"),
		fstest.Symlink("a", "s"),
		fstest.Link("s", "t"),
	)
	tr := tar.NewReader(bytes.NewReader(layerTar(t, upper, nil)))
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = fmt.Sprintf("%c %s %v", h.Typeflag, h.Linkname, h.PAXRecords)
	}
	want := map[string]string{
		"a": "0  map[SCHILY.xattr.user.keep:kept]",
		"b": "1 a map[SCHILY.xattr.user.keep:kept]",
		"s": "2 a map[]",
		"t": "1 s map[]",
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
