package layerdiff

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/fstest"
)

// FuzzExtract extracts arbitrary bytes as a layer, over parents that hold a
// symlink out of every layer. Whatever the input, Extract must not panic and
// must not write outside its dir.
//
//	go test -fuzz=FuzzExtract ./layerdiff
func FuzzExtract(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzExtract, written by TestFuzzSeeds.
	// The sandbox is made once per fuzzing process: only the extraction
	// dir is made again for each input.
	s := newSandbox(f)
	parents := stack(f, []fstest.Applier{
		fstest.Symlink(s.parent, "up"),
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/passwd", []byte("root:x:0:0"), 0o644),
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.RemoveAll(s.root); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(s.root, 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		_ = Extract(ctx, bytes.NewReader(data), s.root, WithParents(parents))
		s.check(t)
		if _, err := os.Lstat("/etc/" + etcCanary); err == nil {
			os.Remove("/etc/" + etcCanary)
			t.Fatal("wrote to the host's /etc")
		}
	})
}

// fuzzSeeds are valid and hostile layers to start fuzzing from.
func fuzzSeeds(t testing.TB) map[string][]byte {
	opaqueDir := dir("o/")
	opaqueDir.PAXRecords = map[string]string{paxXattr + "user.note": "kept"}
	inject := dir("d/")
	inject.PAXRecords = map[string]string{
		paxXattr + "trusted.overlay.opaque":   "y",
		paxXattr + "trusted.overlay.redirect": "/etc",
	}
	return map[string][]byte{
		"valid-layer": mkTar(t,
			dir("etc/"), reg("etc/passwd", "root:x:0:0\n"), reg("etc/.wh.shadow", ""),
			opaqueDir, reg("o/.wh..wh..opq", ""), reg("o/f", "f"),
			symlink("bin", "usr/bin"), dir("usr/bin/"), reg("usr/bin/sh", "#!"),
			hardlink("usr/bin/bash", "usr/bin/sh"), hardlink("pw", "etc/passwd"),
			ent{Header: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o600}},
			ent{Header: tar.Header{Typeflag: tar.TypeChar, Name: "null", Mode: 0o666, Devmajor: 1, Devminor: 3}},
		),
		"dotdot":              mkTar(t, reg("../escape", "x"), reg("a/../../escape", "x")),
		"absolute":            mkTar(t, reg("/abs/file", "x"), reg("./rel", "x")),
		"symlink-etc":         mkTar(t, symlink("a", "/etc"), reg("a/"+etcCanary, "x")),
		"symlink-up":          mkTar(t, symlink("a", "../../../.."), reg("a/escape", "x"), dir("a/d/")),
		"symlink-parents":     mkTar(t, reg("up/escape", "x"), symlink("u", "up"), reg("u/sentinel", "x")),
		"symlink-replaced":    mkTar(t, symlink("s", "/etc/passwd"), reg("s", "x")),
		"dir-then-symlink":    mkTar(t, dir("d/"), dir("d/e/"), symlink("d", "/tmp")),
		"hardlink-out":        mkTar(t, hardlink("x", "../../etc/passwd")),
		"hardlink-via-link":   mkTar(t, symlink("s", "/"), hardlink("x", "s/etc/passwd"), hardlink("y", "up/sentinel")),
		"hardlink-from-below": mkTar(t, hardlink("x", "etc/passwd"), hardlink("y", "etc/passwd")),
		"xattr-inject":        mkTar(t, inject),
		"gnu-sparse-4gib":     sparseSeed(t),
	}
}

// sparseSeedSize is the apparent size of sparseSeed.
const sparseSeedSize = 4 << 30

// sparseSeed is a GNU sparse 1.0 file of 4 GiB holding one byte: a few
// hundred bytes of input that must not take 4 GiB of disk. archive/tar does
// not write GNU sparse records, so the blocks are made here.
func sparseSeed(testing.TB) []byte {
	const size = sparseSeedSize
	var recs strings.Builder
	for _, kv := range [][2]string{
		{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"},
		{"GNU.sparse.name", "huge"}, {"GNU.sparse.realsize", fmt.Sprint(size)},
	} {
		recs.WriteString(paxRecord(kv[0], kv[1]))
	}
	sparseMap := fmt.Sprintf("1\n%d\n1\n", size-1) // one fragment: 1 byte at the end
	body := pad(sparseMap) + "x"
	var b bytes.Buffer
	b.Write(ustarBlock("PaxHeaders.0/huge", tar.TypeXHeader, recs.Len()))
	b.WriteString(pad(recs.String()))
	b.Write(ustarBlock("GNUSparseFile.0/huge", tar.TypeReg, len(body)))
	b.WriteString(pad(body))
	b.Write(make([]byte, 1024))
	return b.Bytes()
}

func paxRecord(k, v string) string {
	n := len(k) + len(v) + 3 // " ", "=", "\n"
	for l := len(fmt.Sprint(n)); ; l++ {
		if len(fmt.Sprint(n+l)) == l {
			return fmt.Sprintf("%d %s=%s\n", n+l, k, v)
		}
	}
}

func pad(s string) string { return s + strings.Repeat("\x00", (512-len(s)%512)%512) }

func ustarBlock(name string, typ byte, size int) []byte {
	b := make([]byte, 512)
	copy(b[0:], name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], "00000000000\x00")
	b[156] = typ
	copy(b[257:], "ustar\x0000")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzExtract in step with fuzzSeeds
// (-update rewrites it) and runs each seed as a plain test too.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzExtract")
	seeds := fuzzSeeds(t)
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seeds[name])
		file := filepath.Join(dir, name)
		if *update {
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale (go test -update rewrites it): %v", file, err)
		}
	}
}

// TestExtractGNUSparse extracts the sparse seed: the holes take no disk.
func TestExtractGNUSparse(t *testing.T) {
	s := newSandbox(t)
	start := time.Now()
	if err := Extract(t.Context(), bytes.NewReader(sparseSeed(t)), s.root); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.root, "huge"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != sparseSeedSize || statOf(fi).Blocks > 64 {
		t.Errorf("size %d, %d blocks", fi.Size(), statOf(fi).Blocks)
	}
	t.Logf("%d GiB apparent size in %v", sparseSeedSize>>30, time.Since(start))
	s.check(t)
}
