package layerdiff

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

var update = flag.Bool("update", false, "rewrite the golden files and the fuzz seed corpus in testdata")

// epoch clamps the fixtures' mtimes in golden tests, so that they do not
// depend on when the test runs.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// tree builds a fixture directory.
func tree(t testing.TB, appliers ...fstest.Applier) string {
	t.Helper()
	dir := t.TempDir()
	if err := fstest.Apply(dir, appliers...); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stack builds each layer (newest first) and stacks them.
func stack(t testing.TB, layers ...[]fstest.Applier) *overlay.Stack {
	t.Helper()
	var dirs []string
	for _, l := range layers {
		dirs = append(dirs, tree(t, l...))
	}
	return overlay.NewStack(dirs...)
}

// layerTar returns the uncompressed layer for upper.
func layerTar(t testing.TB, upper string, lower *overlay.Stack, opts ...Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(t.Context(), &buf, upper, lower, opts...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dumpTar lists the entries of a tar, one per line: everything a layer
// entry says, with the sha256 of the content instead of the content.
func dumpTar(r io.Reader) (string, error) {
	var b strings.Builder
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %q mode=%04o uid=%d gid=%d size=%d mtime=%s",
			typeName(h.Typeflag), h.Name, h.Mode, h.Uid, h.Gid, h.Size, h.ModTime.UTC().Format(time.RFC3339Nano))
		if h.Linkname != "" {
			fmt.Fprintf(&b, " link=%q", h.Linkname)
		}
		if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
			fmt.Fprintf(&b, " dev=%d,%d", h.Devmajor, h.Devminor)
		}
		if h.Uname != "" || h.Gname != "" {
			fmt.Fprintf(&b, " uname=%q gname=%q", h.Uname, h.Gname)
		}
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			fmt.Fprintf(&b, " atime=%s ctime=%s", h.AccessTime, h.ChangeTime)
		}
		var recs []string
		for k, v := range h.PAXRecords {
			if strings.HasPrefix(k, paxXattr) {
				recs = append(recs, fmt.Sprintf(" xattr.%s=%q", strings.TrimPrefix(k, paxXattr), v))
			}
		}
		slices.Sort(recs)
		b.WriteString(strings.Join(recs, ""))
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			sum := sha256.New()
			if _, err := io.Copy(sum, tr); err != nil {
				return "", err
			}
			fmt.Fprintf(&b, " sha256=%s", hex.EncodeToString(sum.Sum(nil)))
		}
		b.WriteString("\n")
	}
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "reg"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	case tar.TypeChar:
		return "char"
	case tar.TypeBlock:
		return "block"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("type%q", t)
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s--- want\n%s", file, got, want)
	}
}

// describe lists every path of a tree with what a layer keeps of it.
func describe(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "%s %v", rel, fi.Mode())
		st := statOf(fi)
		fmt.Fprintf(&b, " %d:%d", st.Uid, st.Gid)
		switch {
		case overlay.IsWhiteout(fi):
			b.WriteString(" whiteout")
		case fi.Mode().IsRegular():
			sum, err := fileSHA256(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " size=%d sha256=%s nlink=%d", fi.Size(), sum, st.Nlink)
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", target)
		case fi.Mode()&os.ModeDevice != 0:
			fmt.Fprintf(&b, " rdev=%d", st.Rdev)
		}
		if !overlay.IsWhiteout(fi) { // a whiteout's own time is no part of a layer
			fmt.Fprintf(&b, " mtime=%d", fi.ModTime().Unix())
		}
		names, err := xattr.List(p)
		if err != nil {
			return err
		}
		slices.Sort(names)
		for _, n := range names {
			v, err := xattr.Get(p, n)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %s=%q", n, v)
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func statOf(fi os.FileInfo) *syscall.Stat_t { return fi.Sys().(*syscall.Stat_t) }

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
