package build

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// wantLines fails t for each line of want that got lacks: as a whole
// line, or, when it ends in a space, as the start of one.
func wantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	lines := strings.Split(got, "\n")
	for _, w := range want {
		if !slices.ContainsFunc(lines, func(l string) bool {
			return l == w || strings.HasSuffix(w, " ") && strings.HasPrefix(l+" ", w)
		}) {
			t.Errorf("missing %q in\n%s", w, near(lines, w))
		}
	}
}

// near keeps the lines under the top directory of want's path.
func near(lines []string, want string) string {
	top, _, _ := strings.Cut(strings.TrimPrefix(want, "/"), "/")
	top, _, _ = strings.Cut(top, " ")
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "/"+top) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A symlink, fifo or file copied where a file already is replaces it,
// whether this COPY made the file or a layer below has it, as in BuildKit.
func TestCopyReplacesFileWithSymlink(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": busyboxPrelude + `COPY a.txt d subdir/
RUN mkdir /below && echo old > /below/a.txt && echo old > /below/p
COPY d /below/
`,
		"a.txt": "a",
	}))
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	if err := os.Symlink("../a.txt", filepath.Join(dir, "d/a.txt")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "d/p"), 0o640); err != nil {
		t.Fatal(err)
	}
	out, _ := testBuild(t, dir, t.TempDir())
	wantLines(t, listing(t, out),
		"/subdir/a.txt symlink 0777 0:0 -> ../a.txt",
		"/subdir/p fifo 0640 0:0 ",
		"/below/a.txt symlink 0777 0:0 -> ../a.txt",
		"/below/p fifo 0640 0:0 ",
	)
}

// A COPY source that .dockerignore excludes, with "!" exceptions below
// it, copies what the exceptions bring back, as in BuildKit.
func TestCopyIgnoredDirWithExceptions(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": `FROM scratch
COPY folder1 /x
COPY folder1/file1 /y/
COPY folder* /z/
`,
		".dockerignore": "**\n!folder1/file1\n!busybox\n",
		"folder1/file1": "1", "folder1/file2": "2", "folder2/f": "f",
	}))
	out, _ := testBuild(t, dir, t.TempDir())
	l := listing(t, out)
	wantLines(t, l, "/x dir 0755 0:0", "/x/file1 file 0644 0:0 ", "/y/file1 file 0644 0:0 ", "/z/file1 file 0644 0:0 ")
	for _, p := range []string{"/x/file2", "/z/file2", "/z/f", "/z/folder2"} {
		if lineOf(t, out, p) != "" {
			t.Errorf("%s was copied", p)
		}
	}
}

// COPY "" names the context root, as in BuildKit.
func TestCopyEmptySourceIsTheContext(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY \"\" /ctx/\nCOPY [\"\", \"/json\"]\n",
		"a.txt":      "a", "sub/b.txt": "b",
		".dockerignore": "Dockerfile\n",
	})
	out, _ := testBuild(t, dir, t.TempDir())
	wantLines(t, listing(t, out), "/ctx/a.txt file 0644 0:0 ", "/ctx/sub/b.txt file 0644 0:0 ",
		"/json/a.txt file 0644 0:0 ", "/json/.dockerignore file 0644 0:0 ")
}
