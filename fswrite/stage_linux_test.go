package fswrite

import (
	"reflect"
	"testing"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/overlay"
)

// A stage's sources resolve in its merged layers: wildcards match what the
// top layers show, and a symlink keeps its own name.
func TestStageResolve(t *testing.T) {
	stage := NewStage(overlay.NewStack(
		tree(t,
			fstest.CreateDir("out", 0o755),
			fstest.CreateFile("out/new.txt", nil, 0o644),
			fstest.Whiteout("out/gone.txt"),
			fstest.Symlink("/out", "link"),
		),
		tree(t,
			fstest.CreateDir("out", 0o755),
			fstest.CreateFile("out/gone.txt", nil, 0o644),
			fstest.CreateFile("out/old.txt", nil, 0o644),
		),
	))
	for src, want := range map[string][]buildcontext.Match{
		"/out/*.txt":     {{Path: "/out/new.txt", Name: "new.txt"}, {Path: "/out/old.txt", Name: "old.txt"}},
		"/lin?/old.txt":  {{Path: "/out/old.txt", Name: "old.txt"}},
		"link":           {{Path: "/out", Name: "link"}},
		"/out/gone.*":    nil,
		"/nothing/*.txt": nil,
	} {
		got, err := stage.Resolve(src)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Resolve(%q) = %v, %v; want %v", src, got, err, want)
		}
	}
	if _, err := stage.Resolve("/out/gone.txt"); err == nil || err.Error() != "/out/gone.txt: not found" {
		t.Errorf("a deleted file: %v", err)
	}
	files, err := stage.Walk("/out")
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, f := range files {
		rels = append(rels, f.Rel)
	}
	if want := []string{"", "new.txt", "old.txt"}; !reflect.DeepEqual(rels, want) {
		t.Errorf("Walk = %q, want %q", rels, want)
	}
}
