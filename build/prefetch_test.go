package build

import (
	"os"
	"path/filepath"
	"testing"
)

// A base new to the cache is unpacked ahead of its first step, but not by
// the cache-only try of a normal user's build (NoLayers), whose form of
// the layers is made later, in a user namespace.
func TestPrefetchOnlyWhenLayersAreMade(t *testing.T) {
	base, _ := testBuild(t, withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude})), t.TempDir())
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM oci-archive:" + base + "\nRUN echo more > /more\n"})
	layers := func(cacheDir string) []os.DirEntry {
		t.Helper()
		entries, err := os.ReadDir(filepath.Join(cacheDir, "layers/sha256"))
		if err != nil {
			t.Fatal(err)
		}
		return entries
	}

	cacheDir := t.TempDir()
	_, res := testBuild(t, dir, cacheDir)
	// The base's two layers and the RUN's, with their seals.
	if n := len(layers(cacheDir)); n != 6 {
		t.Fatalf("the build left %d layer dirs and seals, want 6", n)
	}
	// The records stay, the unpacked layers go, and the base is new to
	// the cache again: every step hits, and nothing needs a layer.
	for _, e := range layers(cacheDir) {
		if err := os.RemoveAll(filepath.Join(cacheDir, "layers/sha256", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(cacheDir, "steps", res.Steps[0].Key.Encoded()+".json")); err != nil {
		t.Fatal(err)
	}
	_, res = testBuild(t, dir, cacheDir, func(o *Options) { o.NoLayers = true })
	if !res.Steps[1].Cached {
		t.Fatalf("the RUN missed: %+v", res.Steps[1])
	}
	if entries := layers(cacheDir); len(entries) != 0 {
		t.Errorf("a NoLayers build unpacked %d layer dirs and seals", len(entries))
	}
}
