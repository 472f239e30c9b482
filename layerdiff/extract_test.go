package layerdiff

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/internal/fstest"
)

func extract(t *testing.T, ents []ent, opts ...ExtractOption) string {
	t.Helper()
	out := t.TempDir()
	if err := Extract(t.Context(), bytes.NewReader(mkTar(t, ents...)), out, opts...); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExtractWhiteouts(t *testing.T) {
	out := extract(t, []ent{
		reg(".wh.gone", ""),                                   // deletes below
		dir("kept/"), reg("kept/f", "f"), reg(".wh.kept", ""), // same layer: kept, hides below
		reg(".wh.remade", ""), dir("remade/"), // deleted below, made again
		reg(".wh.parent", ""), reg("parent/child", "c"), // made again implicitly
		reg(".wh.file", ""), reg("file", "new"), // a file replaces the whiteout
		dir("o/"), reg("o/.wh..wh..opq", ""), reg("o/new", ""),
		reg(".wh..wh.plnk", ""), // aufs bookkeeping: ignored
	})
	want := strings.Join([]string{
		"file -rw-r--r-- 0:0",
		"gone Dc--------- 0:0 whiteout",
		"kept drwxr-xr-x 0:0 trusted.overlay.opaque=\"y\"",
		"kept/f -rw-r--r-- 0:0",
		"o drwxr-xr-x 0:0 trusted.overlay.opaque=\"y\"",
		"o/new -rw-r--r-- 0:0",
		"parent drwxr-xr-x 0:0 trusted.overlay.opaque=\"y\"",
		"parent/child -rw-r--r-- 0:0",
		"remade drwxr-xr-x 0:0 trusted.overlay.opaque=\"y\"",
	}, "\n")
	if got := briefTree(t, out); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// briefTree is describe without sizes, hashes and times.
func briefTree(t *testing.T, root string) string {
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(describe(t, root)), "\n") {
		var keep []string
		for _, f := range strings.Fields(line) {
			if !strings.HasPrefix(f, "size=") && !strings.HasPrefix(f, "sha256=") &&
				!strings.HasPrefix(f, "mtime=") && !strings.HasPrefix(f, "nlink=") {
				keep = append(keep, f)
			}
		}
		lines = append(lines, strings.Join(keep, " "))
	}
	return strings.Join(lines, "\n")
}

func TestExtractReplaces(t *testing.T) {
	d := dir("d/")
	d.Mode, d.Uid = 0o700, 9
	out := extract(t, []ent{
		reg("x", "file"), dir("x/"), symlink("x", "target"), // each replaces the one before
		dir("d/"), reg("d/child", "c"), d, // dir over dir: children stay, metadata updates
		dir("y/"), reg("y/child", ""), reg("y", "now a file"),
	})
	want := strings.Join([]string{
		"d drwx------ 9:0",
		"d/child -rw-r--r-- 0:0",
		"x Lrwxrwxrwx 0:0 -> target",
		"y -rw-r--r-- 0:0",
	}, "\n")
	if got := briefTree(t, out); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestExtractMetadata(t *testing.T) {
	mtime := time.Date(2005, 6, 7, 8, 9, 10, 0, time.UTC)
	suid := reg("bin/su", "su")
	suid.Mode, suid.Uid, suid.Gid = 0o4755, 1000, 1000
	suid.PAXRecords = map[string]string{
		paxXattr + "security.capability": capNetBindService,
		paxXattr + "user.k":              "v",
		paxXattr + "trusted.keep":        "other trusted xattrs are the tar's business",
	}
	sticky := dir("tmp/")
	sticky.Mode = 0o1777
	sgid := dir("srv/")
	sgid.Mode, sgid.Gid = 0o2775, 50
	bin := dir("bin/")
	bin.ModTime = mtime
	link := symlink("l", "bin/su")
	link.Uid, link.ModTime = 5, mtime
	out := extract(t, []ent{
		bin, suid, sticky, sgid, link,
		{Header: tar.Header{Typeflag: tar.TypeChar, Name: "null", Mode: 0o666, Devmajor: 1, Devminor: 3}},
		{Header: tar.Header{Typeflag: tar.TypeBlock, Name: "sda", Mode: 0o660, Devmajor: 8}},
		{Header: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o600, ModTime: mtime}},
	})
	got := describe(t, out)
	for _, want := range []string{
		"bin drwxr-xr-x 0:0 mtime=1118131750\n", // set after bin/su was made in it
		`bin/su urwxr-xr-x 1000:1000`,
		`security.capability="\x01\x00\x00\x02\x00\x04`,
		`trusted.keep="other trusted`,
		`user.k="v"`,
		"tmp dtrwxrwxrwx 0:0",
		"srv dgrwxrwxr-x 0:50",
		"l Lrwxrwxrwx 5:0 -> bin/su mtime=1118131750\n",
		"null Dcrw-rw-rw- 0:0 rdev=259",
		"sda Drw-rw---- 0:0 rdev=2048",
		"fifo prw------- 0:0 mtime=1118131750\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestExtractImplicitParents(t *testing.T) {
	lowerTime := time.Date(2003, 1, 1, 0, 0, 0, 0, time.UTC)
	lower := stack(t, []fstest.Applier{
		fstest.CreateDir("a", 0o710),
		fstest.Chown("a", 5, 6),
		fstest.SetXattr("a", "user.x", "from below"),
		fstest.Opaque("a"), // opacity is the lower layer's own
		fstest.Chtimes("a", lowerTime),
	})
	out := extract(t, []ent{reg("a/b/c", "c")}, WithParents(lower))
	got := describe(t, out)
	want := strings.Join([]string{
		`a drwx--x--- 5:6 mtime=1041379200 user.x="from below"`,
		`a/b drwxr-xr-x 0:0 mtime=0`,
		`a/b/c -rw-r--r-- 0:0 size=1 sha256=2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6 nlink=1 mtime=1262304000`,
	}, "\n") + "\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestExtractHardlinks(t *testing.T) {
	lower := stack(t, []fstest.Applier{
		fstest.CreateDir("usr/bin", 0o755),
		fstest.CreateFile("usr/bin/python3.12", []byte("python"), 0o751),
		fstest.Chown("usr/bin/python3.12", 3, 4),
		fstest.SetXattr("usr/bin/python3.12", "security.capability", capNetBindService),
		fstest.Symlink("usr/bin", "bin"),
		fstest.Mkfifo("fifo", 0o640),
	})
	out := extract(t, []ent{
		reg("here", "in this layer"),
		hardlink("here2", "here"),
		hardlink("py", "usr/bin/python3.12"), // below: copied in
		hardlink("py2", "/bin/python3.12"),   // the same, through a symlink below
		hardlink("fifo2", "fifo"),            // not only regular files
	}, WithParents(lower))
	got := describe(t, out)
	for _, want := range []string{
		"here -rw-r--r-- 0:0 size=13",
		"here2 -rw-r--r-- 0:0 size=13",
		"py -rwxr-x--x 3:4 size=6",
		"py2 -rwxr-x--x 3:4 size=6",
		`security.capability="\x01`,
		"fifo2 prw-r----- 0:0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	same := func(a, b string) bool {
		fa, erra := os.Lstat(filepath.Join(out, a))
		fb, errb := os.Lstat(filepath.Join(out, b))
		return erra == nil && errb == nil && os.SameFile(fa, fb)
	}
	if !same("here", "here2") || !same("py", "py2") {
		t.Errorf("links are not the same inode:\n%s", got)
	}

	// Missing target, with and without parents.
	for _, opts := range [][]ExtractOption{nil, {WithParents(lower)}} {
		err := Extract(t.Context(), bytes.NewReader(mkTar(t, hardlink("x", "missing"))), t.TempDir(), opts...)
		if !errors.Is(err, fswrite.ErrLinkNotFound) {
			t.Errorf("missing target: %v", err)
		}
	}
	// A directory cannot be linked.
	err := Extract(t.Context(), bytes.NewReader(mkTar(t, dir("d/"), hardlink("x", "d"))), t.TempDir())
	if err == nil {
		t.Error("hard link to a directory accepted")
	}
}

func TestExtractCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Extract(ctx, bytes.NewReader(mkTar(t, reg("f", "x"))), t.TempDir())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestExtractCorrupt(t *testing.T) {
	good := mkTar(t, reg("f", strings.Repeat("x", 4000)))
	if err := Extract(t.Context(), bytes.NewReader(good[:1500]), t.TempDir()); err == nil {
		t.Error("truncated tar accepted")
	}
	if err := Extract(t.Context(), bytes.NewReader(nil), t.TempDir()); err != nil {
		t.Errorf("empty stream: %v", err)
	}
}
