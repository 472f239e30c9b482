package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Git runs git in dir for a fixture, with no user or system config, and
// returns its output, trimmed.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	args = append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main",
		"-c", "protocol.file.allow=always"}, args...)
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C",
		"GIT_AUTHOR_DATE=2020-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2020-01-02T03:04:05Z"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Repo is a repository being made: a work tree whose commits are pushed
// to the bare repository Name.git under the served root.
type Repo struct {
	t    testing.TB
	Work string
	Bare string
}

// NewRepo starts the repository name under root.
func NewRepo(t testing.TB, root, name string) *Repo {
	t.Helper()
	r := &Repo{t: t, Work: filepath.Join(t.TempDir(), name), Bare: filepath.Join(root, name+".git")}
	Git(t, root, "init", "--bare", r.Bare)
	Git(t, t.TempDir(), "init", r.Work)
	Git(t, r.Work, "remote", "add", "origin", r.Bare)
	return r
}

// Commit writes files (a name ending in "*" is made executable, the star
// dropped) and commits them; it returns the commit id.
func (r *Repo) Commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		p := filepath.Join(r.Work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			r.t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			r.t.Fatal(err)
		}
	}
	r.Git("add", "-A")
	r.Git("commit", "-q", "-m", msg)
	return r.Git("rev-parse", "HEAD")
}

// Git runs git in the work tree.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return Git(r.t, r.Work, args...)
}

// Push pushes every branch and tag to the bare repository.
func (r *Repo) Push() {
	r.t.Helper()
	r.Git("push", "-q", "--all", "origin")
	r.Git("push", "-q", "--tags", "origin")
}
