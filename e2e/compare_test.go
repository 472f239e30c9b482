package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
)

// sameImage fails the test unless the images in the OCI archives want,
// built in the normal mode, and got, built in mode, have the same root
// filesystem (paths, types, modes, owners, contents, link targets, hard
// links, xattrs) and the same config (but for times and layer digests).
func sameImage(t *testing.T, mode, want, got string) {
	t.Helper()
	sameImageBut(t, mode, want, got, nil)
}

// sameImageBut is sameImage, but for the differences the mode is known
// to make: each key is the start of a line of want's listing, which must
// be there once, and got's has its value there instead.
func sameImageBut(t *testing.T, mode, want, got string, differences map[string]string) {
	t.Helper()
	wantFS, gotFS := listing(t, want), listing(t, got)
	for from, to := range differences {
		lines := strings.Split(wantFS, "\n")
		n := 0
		for i, l := range lines {
			if rest, ok := strings.CutPrefix(l, from); ok {
				lines[i] = to + rest
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines of the normal mode's root filesystem start with %q, want 1: the difference expected %s is gone or changed", n, from, mode)
		}
		wantFS = strings.Join(lines, "\n")
	}
	if wantFS != gotFS {
		t.Errorf("the root filesystem built %s differs from the normal mode's:\n%s", mode, imagetest.LineDiff(wantFS, gotFS))
	}
	wantCfg, gotCfg := config(t, want), config(t, got)
	if wantCfg != gotCfg {
		t.Errorf("the config built %s differs from the normal mode's:\n%s", mode, imagetest.LineDiff(wantCfg, gotCfg))
	}
}

func listing(t *testing.T, archive string) string {
	t.Helper()
	fsys, err := imagetest.Flatten(archive)
	if err != nil {
		t.Fatal(err)
	}
	return fsys.Listing(imagetest.ListingOptions{})
}

func config(t *testing.T, archive string) string {
	t.Helper()
	cfg, err := imagetest.ReadConfig(archive)
	if err != nil {
		t.Fatal(err)
	}
	c, err := imagetest.ComparableConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}

// noLeaks fails the test when a layer of the image, past the base's
// first layers, holds a path of forbidden or below one: what a build in
// place must leave out of its layers.
func noLeaks(t *testing.T, archive string, base int, forbidden []string) {
	t.Helper()
	layers, err := imagetest.LayerPaths(archive)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) <= base {
		t.Fatalf("%s has %d layers, its base alone %d", archive, len(layers), base)
	}
	for i, paths := range layers[base:] {
		for _, p := range paths {
			if under(p, forbidden) {
				t.Errorf("layer %d of %s holds %s", base+i, filepath.Base(archive), p)
			}
		}
	}
}

// under tells whether p is one of dirs or below one.
func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// tree is the state of every entry below a directory: its type and mode,
// owner, size, mtime and content, by path.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		state := fmt.Sprintf("%v %d:%d size=%d mtime=%d", fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			state += " sha256=" + hex.EncodeToString(sum[:])
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = state
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// treeDiff lists what differs between two trees, one line a path.
func treeDiff(before, after map[string]string) []string {
	var out []string
	for p, s := range before {
		if a, ok := after[p]; !ok {
			out = append(out, "- "+p+" "+s)
		} else if a != s {
			out = append(out, "~ "+p+" "+s+" -> "+a)
		}
	}
	for p, s := range after {
		if _, ok := before[p]; !ok {
			out = append(out, "+ "+p+" "+s)
		}
	}
	slices.Sort(out)
	return out
}

// hasFiles fails the test unless the image in the OCI archive holds each
// file of want (path: content) and none of gone.
func hasFiles(t *testing.T, archive string, want map[string]string, gone []string) *imagetest.FS {
	t.Helper()
	fsys, err := imagetest.Flatten(archive)
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range want {
		sum := sha256.Sum256([]byte(content))
		if e, ok := fsys.Lookup(p); !ok || e.Type != imagetest.TypeFile || e.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s of %s is %+v, want a file holding %q", p, filepath.Base(archive), e, content)
		}
	}
	for _, p := range gone {
		if e, ok := fsys.Lookup(p); ok {
			t.Errorf("%s of %s is %+v, want none", p, filepath.Base(archive), e)
		}
	}
	return fsys
}
