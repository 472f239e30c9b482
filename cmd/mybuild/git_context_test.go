package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/gittest"
	"github.com/mybuild/mybuild/internal/imagetest"
)

// A git URL is a context, as in buildx: the ref and the subdir of the
// fragment say what is built, -f is read in the repository, and the
// checkout is gone afterwards.
func TestGitContext(t *testing.T) {
	busybox, err := os.ReadFile(imagetest.Busybox(t))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	url := gittest.Daemon(t, root)
	repo := gittest.NewRepo(t, root, "app")
	files := map[string]string{
		"app/busybox*":         string(busybox),
		"app/Dockerfile":       prelude + "COPY version /version\n",
		"app/other.Dockerfile": prelude + "COPY version /other\n",
		"app/version":          "one\n",
		"README":               "not in the context\n",
	}
	repo.Commit("one", files)
	repo.Git("tag", "v1")
	repo.Commit("two", map[string]string{"app/version": "two\n"})
	repo.Push()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, c := range []struct {
		name, context, file, path, want string
	}{
		{"default branch", url + "app.git#:app", "", "/version", "two\n"},
		{"tag", url + "app.git#v1:app", "", "/version", "one\n"},
		{"-f in the repository", url + "app.git#main:app", "other.Dockerfile", "/other", "two\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "app.tar")
			args := []string{"build", "--cache-dir", t.TempDir(), "-t", out}
			if c.file != "" {
				args = append(args, "-f", c.file)
			}
			if code, _, stderr := runCLI(t, append(args, c.context)...); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			fsys, err := imagetest.Flatten(out)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := fsys.Lookup(c.path); !ok || got.SHA256 != fmt.Sprintf("%x", sha256.Sum256([]byte(c.want))) {
				t.Errorf("%s: %+v, want %q", c.path, got, c.want)
			}
			if _, ok := fsys.Lookup("/README"); ok {
				t.Error("the image holds what is outside the subdir")
			}
		})
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	code, _, stderr := runCLI(t, "build", "--cache-dir", t.TempDir(), url+"app.git#nosuchref")
	if code != 1 || !strings.HasPrefix(stderr, "mybuild: git context "+url+"app.git#nosuchref: ") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("a missing ref: exit %d, stderr %q; want 1 and one line", code, stderr)
	}
}

// A private https repository is a context with the token of the secret
// GIT_AUTH_TOKEN, as in buildx; without it the build fails in one line.
func TestGitContextToken(t *testing.T) {
	root := t.TempDir()
	url, caFile := gittest.HTTPSAuth(t, root, "basic "+base64.StdEncoding.EncodeToString([]byte("x-access-token:s3cret")))
	t.Setenv("SSL_CERT_FILE", caFile)
	repo := gittest.NewRepo(t, root, "private")
	repo.Commit("one", map[string]string{"Dockerfile": "FROM scratch\nCOPY version /version\n", "version": "one\n"})
	repo.Push()
	out := filepath.Join(t.TempDir(), "app.tar")
	code, _, stderr := runCLI(t, "build", "--cache-dir", t.TempDir(), "-t", out, url+"private.git")
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("without the token: exit %d, stderr %q; want 1 and one line", code, stderr)
	}
	t.Setenv("MYBUILD_TEST_TOKEN", "s3cret")
	code, _, stderr = runCLI(t, "build", "--secret", "id=GIT_AUTH_TOKEN,env=MYBUILD_TEST_TOKEN", "--cache-dir", t.TempDir(), "-t", out, url+"private.git")
	if code != 0 {
		t.Fatalf("with the token: exit %d\n%s", code, stderr)
	}
	fsys, err := imagetest.Flatten(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := fsys.Lookup("/version"); !ok || got.SHA256 != fmt.Sprintf("%x", sha256.Sum256([]byte("one\n"))) {
		t.Errorf("/version: %+v", got)
	}
}
