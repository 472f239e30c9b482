package gitsource

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/internal/gittest"
)

// fixture is a repository with a submodule, a branch, a lightweight and
// an annotated tag, served over git:// and https://.
type fixture struct {
	gitURL, httpsURL, caFile  string
	first, second, dev, subID string
	annotated                 string // the tag object of v2
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	root := t.TempDir()
	var f fixture
	f.gitURL = gittest.Daemon(t, root)
	f.httpsURL, f.caFile = gittest.HTTPS(t, root)
	sub := gittest.NewRepo(t, root, "sub")
	f.subID = sub.Commit("sub", map[string]string{"lib.txt": "lib\n"})
	sub.Push()
	repo := gittest.NewRepo(t, root, "repo")
	f.first = repo.Commit("one", map[string]string{"README": "one\n", "bin/run*": "#!/bin/sh\n", "docs/a/guide.md": "guide\n"})
	repo.Git("tag", "v1")
	repo.Git("submodule", "add", "-q", f.gitURL+"sub.git", "vendor/sub")
	f.second = repo.Commit("two", map[string]string{"README": "two\n"})
	repo.Git("tag", "-a", "-m", "v2", "v2")
	f.annotated = repo.Git("rev-parse", "v2")
	repo.Git("checkout", "-q", "-b", "dev")
	f.dev = repo.Commit("dev", map[string]string{"dev.txt": "dev\n"})
	repo.Git("checkout", "-q", "main")
	repo.Push()
	return f
}

// tree lists dir: path, and for files their mode and content.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, ".git/") {
			return nil
		}
		line := rel + " " + fi.Mode().String()
		if fi.Mode().IsRegular() && !strings.HasSuffix(rel, "/.git") && rel != ".git" {
			data, _ := os.ReadFile(p)
			line += " " + strings.TrimSpace(string(data))
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestResolveAndCheckout(t *testing.T) {
	f := newFixture(t)
	o := Options{CAFile: f.caFile}
	for _, base := range []string{f.gitURL, f.httpsURL} {
		for _, tc := range []struct {
			src, commit, want string
			absent            []string
		}{
			{src: "repo.git", commit: f.second, want: "README -rw-r--r-- two\nbin/run -rwxr-xr-x #!/bin/sh\nvendor/sub/lib.txt -rw-r--r-- lib"},
			{src: "repo.git#v1", commit: f.first, want: "README -rw-r--r-- one", absent: []string{"vendor"}},
			{src: "repo.git#v2", commit: f.second, want: "README -rw-r--r-- two"},
			{src: "repo.git#dev:docs", commit: f.dev, want: "a drwxr-xr-x\na/guide.md -rw-r--r-- guide", absent: []string{"README", "dev.txt"}},
			{src: "repo.git?branch=dev", commit: f.dev, want: "dev.txt -rw-r--r-- dev"},
			{src: "repo.git#" + f.first, commit: f.first, want: "README -rw-r--r-- one"},
			{src: "repo.git?submodules=false", commit: f.second, want: "vendor/sub drwxr-xr-x", absent: []string{"lib.txt"}},
		} {
			r, ok, err := Parse(base + tc.src)
			if !ok || err != nil {
				t.Fatalf("Parse(%s): %v %v", tc.src, ok, err)
			}
			res, err := Resolve(t.Context(), r, o)
			if err != nil {
				t.Fatalf("%s: %v", base+tc.src, err)
			}
			if res.Commit != tc.commit {
				t.Errorf("%s: commit %s, want %s", base+tc.src, res.Commit, tc.commit)
			}
			dir := t.TempDir()
			if err := Checkout(t.Context(), r, res, t.TempDir(), dir, o); err != nil {
				t.Fatalf("%s: %v", base+tc.src, err)
			}
			got := tree(t, dir)
			for _, w := range strings.Split(tc.want, "\n") {
				if !strings.Contains(got+"\n", w+"\n") {
					t.Errorf("%s: missing %q in\n%s", base+tc.src, w, got)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(got, a) {
					t.Errorf("%s: %q in\n%s", base+tc.src, a, got)
				}
			}
			if strings.HasPrefix(got, ".git ") || strings.Contains(got, "\n.git ") {
				t.Errorf("%s: .git in\n%s", base+tc.src, got)
			}
		}
	}
}

// With keep-git-dir the checkout is a repository of its own, whose origin
// is the remote; an annotated tag is then keyed by the tag object.
func TestCheckoutKeepGitDir(t *testing.T) {
	f := newFixture(t)
	r, _, err := Parse(f.gitURL + "repo.git?keep-git-dir=true#v2")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(t.Context(), r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit != f.annotated {
		t.Errorf("commit %s, want the tag object %s", res.Commit, f.annotated)
	}
	dir := t.TempDir()
	if err := Checkout(t.Context(), r, res, t.TempDir(), dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, dir, "rev-parse", "HEAD"); got != f.second {
		t.Errorf("HEAD %s, want %s", got, f.second)
	}
	if got := gittest.Git(t, dir, "remote", "get-url", "origin"); got != f.gitURL+"repo.git" {
		t.Errorf("origin %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "FETCH_HEAD")); err == nil {
		t.Error("FETCH_HEAD left")
	}
	if got := tree(t, dir); !strings.Contains(got, "vendor/sub/lib.txt -rw-r--r-- lib") {
		t.Errorf("no submodule:\n%s", got)
	}
}

func TestResolveErrors(t *testing.T) {
	f := newFixture(t)
	for src, want := range map[string]string{
		"repo.git?checksum=" + f.first[:12] + "#main": "expected checksum to match " + f.first[:12],
		"repo.git?checksum=xyz":                       "invalid checksum xyz",
		"repo.git#nope":                               "repository does not contain ref nope",
		"missing.git":                                 "missing.git",
	} {
		r, _, err := Parse(f.gitURL + src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Resolve(t.Context(), r, Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
	r, _, _ := Parse(f.httpsURL + "repo.git")
	if _, err := Resolve(t.Context(), r, Options{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an https remote with a certificate nobody trusts: %v", err)
	}
}

// A checkout dir that does not exist is made, 0755 whatever the umask,
// as the root of BuildKit's checkout snapshot is.
func TestCheckoutMakesDir(t *testing.T) {
	f := newFixture(t)
	r, _, err := Parse(f.gitURL + "repo.git#v1")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(t.Context(), r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "files")
	old := syscall.Umask(0o077)
	err = Checkout(t.Context(), r, res, t.TempDir(), dir, Options{})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode() != fs.ModeDir|0o755 {
		t.Fatalf("checkout dir: %v, %v; want drwxr-xr-x", fi.Mode(), err)
	}
	if got := tree(t, dir); !strings.HasPrefix(got, "README ") || !strings.Contains(got, " one\n") {
		t.Errorf("not checked out:\n%s", got)
	}
}
