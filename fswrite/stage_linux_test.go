package fswrite

import (
	"path/filepath"
	"reflect"
	"strings"
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

// CopyOut copies a directory of the merged layers into a plain one:
// metadata, hard links and xattrs kept, whiteouts and what they hide left
// out.
func TestStageCopyOut(t *testing.T) {
	stage := NewStage(overlay.NewStack(
		tree(t,
			fstest.CreateDir("src", 0o750),
			fstest.Chown("src", 3, 4),
			fstest.CreateFile("src/a", []byte("a"), 0o640),
			fstest.Chown("src/a", 5, 6),
			fstest.Link("src/a", "src/b"),
			fstest.SetXattr("src/a", "user.k", "v"),
			fstest.Whiteout("src/gone"),
			fstest.Symlink("a", "src/l"),
			fstest.Chtimes("src", t1),
		),
		tree(t, fstest.CreateDir("src", 0o755), fstest.CreateFile("src/gone", nil, 0o644)),
	))
	dir := t.TempDir()
	if err := stage.CopyOut(t.Context(), "/src", dir); err != nil {
		t.Fatal(err)
	}
	got := describeTree(t, dir)
	if !strings.HasPrefix(got, "a -rw-r----- 5:6 ") || !strings.Contains(got, `user.k="v"`) || !strings.Contains(got, "l Lrwxrwxrwx 0:0 -> a") || strings.Contains(got, "gone") {
		t.Errorf("got\n%s", got)
	}
	if !sameInode(t, filepath.Join(dir, "a"), filepath.Join(dir, "b")) {
		t.Error("a and b are not one inode")
	}
	if d := describe(t, dir); !strings.HasPrefix(d, "drwxr-x--- 3:4 mtime=2001-02-03T04:05:06.000007") {
		t.Errorf("the directory itself: %s", d)
	}
}
