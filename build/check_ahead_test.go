package build

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/cache"
)

// A build checks the unpacked layers of the steps it finds in the cache
// as it finds them, all but large ones, which only a step that needs
// them unpacked checks: a warm build, which needs none, finds the damage
// of a small layer and leaves a large one alone.
func TestCheckAheadOfCachedSteps(t *testing.T) {
	big := make([]byte, 2<<20) // random: its gzip stays over checkAheadMax
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY small /small\nCOPY big /big\n", "small": "small\n", "big": string(big)})
	cacheDir := t.TempDir()
	_, res := testBuild(t, dir, cacheDir)
	store, err := cache.Open(context.Background(), cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	layers := map[string]string{} // name -> diffID
	for _, name := range []string{"small", "big"} {
		for _, s := range res.Steps {
			if s.Layer != nil && strings.Contains(s.Instruction, "/"+name) {
				layers[name] = s.Layer.DiffID.String()
				path := filepath.Join(store.LayerPath(s.Layer.DiffID), name)
				if err := os.WriteFile(path, []byte("damaged"), 0o644); err != nil {
					t.Fatalf("damage the layer of %s: %v", name, err)
				}
			}
		}
	}
	store.Close()
	w := &warnings{}
	testBuild(t, dir, cacheDir, func(o *Options) { o.Reporter = w })
	if len(w.msgs) != 1 || !strings.Contains(w.msgs[0], layers["small"]) || strings.Contains(w.msgs[0], layers["big"]) {
		t.Errorf("warnings %q, want one, of the damage of the small layer %s alone", w.msgs, layers["small"])
	}
}
