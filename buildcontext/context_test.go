package buildcontext

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// tree creates files ("name" -> content; a trailing "/" makes a dir,
// "->target" a symlink).
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		switch {
		case strings.HasSuffix(name, "/"):
			os.MkdirAll(p, 0o755)
		case strings.HasPrefix(content, "->"):
			if err := os.Symlink(content[2:], p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func open(t *testing.T, root string, opts ...Option) *Context {
	t.Helper()
	c, err := Open(root, filepath.Join(root, "Dockerfile"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolve(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600)
	root := tree(t, map[string]string{
		"a.txt": "a", "b.txt": "b", "c.md": "c",
		"dir/x.txt": "x", "dir/sub/y.txt": "y",
		"other/x.txt":   "x2",
		"link-to-dir":   "->dir",
		"escape":        "->" + filepath.Join(outside, "secret"),
		"escape-rel":    "->../../../../../../" + outside + "/secret",
		"ignored.txt":   "i",
		".dockerignore": "ignored.txt\n",
	})
	c := open(t, root)
	for _, tc := range []struct {
		src  string
		want []string
		err  string
	}{
		{src: "a.txt", want: []string{"a.txt"}},
		{src: "/a.txt", want: []string{"a.txt"}},
		{src: "./dir/../a.txt", want: []string{"a.txt"}},
		{src: "*.txt", want: []string{"a.txt", "b.txt"}},
		{src: "*/x.txt", want: []string{"dir/x.txt", "other/x.txt"}},
		{src: "[ab].txt", want: []string{"a.txt", "b.txt"}},
		{src: "nomatch*", want: nil},
		{src: "link-to-dir", want: []string{"dir"}},
		{src: "link-to-dir/sub/y.txt", want: []string{"dir/sub/y.txt"}},
		{src: ".", want: []string{"."}},
		{src: "missing", err: "not found"},
		{src: "ignored.txt", err: "not found"},
		{src: "../x", err: "outside the build context"},
		{src: "dir/../../x", err: "outside the build context"},
		// Symlinks resolve inside the root, never to the host's files.
		{src: "escape", err: "not found"},
		{src: "escape-rel", err: "not found"},
	} {
		matches, err := c.Resolve(tc.src)
		var got []string
		for _, m := range matches {
			got = append(got, m.Path)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Resolve(%q) = %v, %v; want error %q", tc.src, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Resolve(%q) = %v, %v; want %v", tc.src, got, err, tc.want)
		}
	}
}

func rels(files []File) []string {
	var out []string
	for _, f := range files {
		r := f.Rel
		if f.Info.IsDir() {
			r += "/"
		}
		out = append(out, r)
	}
	return out
}

func TestWalkDockerignore(t *testing.T) {
	root := tree(t, map[string]string{
		"Dockerfile":          "FROM scratch",
		"main.go":             "package main",
		"README.md":           "readme",
		"docs/a.md":           "a",
		"docs/keep.md":        "keep",
		"docs/deep/skip.md":   "s",
		"build/out.o":         "o",
		"node_modules/x/y.js": "y",
		"src/gen/z.tmp":       "z",
		"src/z.go":            "z",
		".dockerignore":       "Dockerfile\n*.md\n!README.md\ndocs\n!docs/keep.md\nbuild/\n**/node_modules\n**/*.tmp\n",
	})
	c := open(t, root)
	files, err := c.Walk(".")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/", ".dockerignore", "README.md", "docs/", "docs/keep.md", "main.go", "src/", "src/gen/", "src/z.go"}
	if got := rels(files); !reflect.DeepEqual(got, want) {
		t.Errorf("walk:\n got %v\nwant %v", got, want)
	}
}

// The Dockerfile may be listed in .dockerignore and the build still reads
// it; a Dockerfile-specific ignore file wins over .dockerignore.
func TestDockerfileSpecificIgnore(t *testing.T) {
	root := tree(t, map[string]string{
		"app.Dockerfile":              "FROM scratch",
		"app.Dockerfile.dockerignore": "secret\n",
		".dockerignore":               "public\n",
		"secret":                      "s",
		"public":                      "p",
	})
	c, err := Open(root, filepath.Join(root, "app.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve("secret"); !errors.Is(err, ErrNotFound) {
		t.Errorf("secret: %v", err)
	}
	if _, err := c.Resolve("public"); err != nil {
		t.Errorf("public: %v", err)
	}
}

// A symlink source is named as written and holds what it points to.
func TestResolveKeepsTheName(t *testing.T) {
	root := tree(t, map[string]string{"target.txt": "t", "link": "->target.txt", "d/alias": "->../target.txt"})
	c := open(t, root)
	for src, want := range map[string]Match{
		"link":    {Path: "target.txt", Name: "link"},
		"d/alias": {Path: "target.txt", Name: "alias"},
		"li*":     {Path: "target.txt", Name: "link"},
	} {
		got, err := c.Resolve(src)
		if err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("Resolve(%s) = %+v, %v; want %+v", src, got, err, want)
		}
	}
}

func hashOne(t *testing.T, c *Context, rel string) File {
	t.Helper()
	files, err := c.Walk(rel)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hash(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	return files[0]
}

func TestHashDetectsSameSizeSameMtimeChange(t *testing.T) {
	root := tree(t, map[string]string{"f": "aaaa"})
	p := filepath.Join(root, "f")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	time.Sleep(10 * time.Millisecond)

	sc := NewStatCache(nil)
	sc.horizon = time.Now().Add(time.Hour).UnixNano() // trust everything
	first := hashOne(t, open(t, root, WithStatCache(sc)), "f")
	data, _ := sc.Marshal()

	// Same size, mtime put back: only the ctime tells.
	os.WriteFile(p, []byte("bbbb"), 0o644)
	os.Chtimes(p, old, old)
	sc2 := NewStatCache(data)
	sc2.horizon = time.Now().Add(time.Hour).UnixNano()
	second := hashOne(t, open(t, root, WithStatCache(sc2)), "f")
	if first.Digest == second.Digest {
		t.Fatal("a changed file kept its digest")
	}
	if second.Digest != digest.FromString("bbbb") {
		t.Fatalf("digest %s is not that of the new content", second.Digest)
	}
}

func TestStatCacheSkipsUnchangedFiles(t *testing.T) {
	root := tree(t, map[string]string{"f": "content"})
	sc := NewStatCache(nil)
	sc.horizon = time.Now().Add(time.Hour).UnixNano()
	hashOne(t, open(t, root, WithStatCache(sc)), "f")
	data, _ := sc.Marshal()

	// Plant a marker digest: if the file is not read again, it comes back.
	sc2 := NewStatCache(data)
	host := filepath.Join(root, "f")
	e := sc2.old[host]
	e.Digest = digest.FromString("from the stat cache")
	sc2.old[host] = e
	got := hashOne(t, open(t, root, WithStatCache(sc2)), "f")
	if got.Digest != e.Digest {
		t.Fatal("an unchanged file was read again")
	}
	// A touch changes mtime and ctime: the file is read, the digest is the same.
	now := time.Now()
	os.Chtimes(host, now, now)
	sc3 := NewStatCache(data)
	sc3.old[host] = e
	if got := hashOne(t, open(t, root, WithStatCache(sc3)), "f"); got.Digest != digest.FromString("content") {
		t.Fatalf("touched file: digest %s", got.Digest)
	}
}

// Files changed moments ago are not remembered: their stat data could
// still repeat with different content.
func TestStatCacheSkipsRacyEntries(t *testing.T) {
	root := tree(t, map[string]string{"f": "fresh"})
	sc := NewStatCache(nil)
	hashOne(t, open(t, root, WithStatCache(sc)), "f")
	if len(sc.next) != 0 {
		t.Fatal("a file changed just now was put in the stat cache")
	}
}

func TestHashXattrs(t *testing.T) {
	root := tree(t, map[string]string{"f": "x"})
	p := filepath.Join(root, "f")
	if err := setXattr(p, "user.test", "v"); err != nil {
		t.Fatal(err)
	}
	setXattr(p, "trusted.other", "no")
	f := hashOne(t, open(t, root), "f")
	if len(f.Xattrs) != 1 || f.Xattrs[0].Name != "user.test" || string(f.Xattrs[0].Value) != "v" {
		t.Fatalf("xattrs = %+v", f.Xattrs)
	}
}

func TestHidden(t *testing.T) {
	root := tree(t, map[string]string{
		"src/a.go": "a", "src/a_test.go": "t", "src/gen/x.pb.go": "x",
		"src/docs/keep.md": "k", "src/docs/drop.md": "d", "src/node_modules/m/i.js": "i",
		"src/vendor/sub/keep.go": "k", "src/vendor/sub/x_test.go": "x", "src/vendor/f_test.go": "f",
		".dockerignore": "**/*_test.go\n**/node_modules\nsrc/docs\n!src/docs/keep.md\nsrc/vendor\n!src/vendor/sub/keep.go\n",
	})
	c := open(t, root)
	got, err := c.Hidden("src")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a_test.go", "docs/drop.md", "node_modules", "vendor/f_test.go", "vendor/sub/x_test.go"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Hidden = %v, want %v", got, want)
	}
}

// A source that .dockerignore excludes, but below which a "!" pattern
// brings something back, names what comes back, as in BuildKit: the
// directory holds only that. A symlink excluded is never followed.
func TestResolveIgnoredWithExceptions(t *testing.T) {
	root := tree(t, map[string]string{
		"folder1/file1": "1", "folder1/file2": "2",
		"folder2/sub/keep": "k", "folder2/sub/drop": "d",
		"folder3/x":     "x",
		"link":          "->folder1",
		".dockerignore": "**\n!folder1/file1\n!folder2/sub/keep\n!link2\n",
		"link2":         "->folder3",
	})
	c := open(t, root)
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{"folder1", []string{"/", "file1"}},
		{"folder1/file1", []string{""}},
		{"folder*", []string{"/", "file1", "/", "sub/", "sub/keep"}},
		{"folder2/sub", []string{"/", "keep"}},
		{"", []string{"/", "folder1/", "folder1/file1", "folder2/", "folder2/sub/", "folder2/sub/keep", "link2"}},
	} {
		matches, err := c.Resolve(tc.src)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tc.src, err)
			continue
		}
		var got []string
		for _, m := range matches {
			files, err := c.Walk(m.Path)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, rels(files)...)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Resolve(%q) brings %q, want %q", tc.src, got, tc.want)
		}
	}
	for _, src := range []string{"folder1/file2", "folder3", "link", "link2", "folder*/x"} {
		if m, err := c.Resolve(src); err == nil && len(m) > 0 {
			t.Errorf("Resolve(%q) = %v, want nothing", src, m)
		}
	}
}

// A stat cache that found every file as it was is not changed, and need
// not be written again; a file hashed anew, or one no longer there,
// changes it.
func TestStatCacheChanged(t *testing.T) {
	root := tree(t, map[string]string{"f": "content", "g": "other"})
	trusted := func(data []byte) *StatCache {
		sc := NewStatCache(data)
		sc.horizon = time.Now().Add(time.Hour).UnixNano()
		return sc
	}
	sc := trusted(nil)
	hashOne(t, open(t, root, WithStatCache(sc)), "f")
	hashOne(t, open(t, root, WithStatCache(sc)), "g")
	if !sc.Changed() {
		t.Fatal("a cache that hashed two files reports no change")
	}
	data, _ := sc.Marshal()

	same := trusted(data)
	hashOne(t, open(t, root, WithStatCache(same)), "f")
	hashOne(t, open(t, root, WithStatCache(same)), "g")
	if same.Changed() {
		t.Fatal("a cache that found every file as it was reports a change")
	}

	fewer := trusted(data)
	hashOne(t, open(t, root, WithStatCache(fewer)), "f")
	if !fewer.Changed() {
		t.Fatal("a cache that no longer saw g reports no change")
	}

	os.WriteFile(filepath.Join(root, "g"), []byte("edited"), 0o644)
	edited := trusted(data)
	hashOne(t, open(t, root, WithStatCache(edited)), "f")
	hashOne(t, open(t, root, WithStatCache(edited)), "g")
	if !edited.Changed() {
		t.Fatal("a cache that hashed an edited file reports no change")
	}
}

// One Context answers what is ignored to several goroutines at once, as
// the platforms of a build ask it (go test -race checks it).
func TestIgnoredConcurrently(t *testing.T) {
	root := tree(t, map[string]string{
		"keep.go": "k", "skip.md": "s", "docs/a.md": "a", "docs/keep.md": "k",
		".dockerignore": "*.md\ndocs\n!docs/keep.md\n",
	})
	c := open(t, root)
	want := map[string]bool{"keep.go": false, "skip.md": true, "docs/a.md": true, "docs/keep.md": false}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rel, w := range want {
				if got, err := c.ignored(rel); err != nil || got != w {
					t.Errorf("ignored(%s) = %v, %v; want %v", rel, got, err, w)
				}
			}
		}()
	}
	wg.Wait()
}
