package build

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/gittest"
)

// ADD of a git repository, over git:// (git daemon) and https:// (git
// http-backend behind TLS with a certificate the test makes, trusted
// through SSL_CERT_FILE): the files of the commit, with their modes,
// submodules, a subdir, --keep-git-dir, --chown; keyed by the commit.
func TestAddGit(t *testing.T) {
	root := t.TempDir()
	gitURL := gittest.Daemon(t, root)
	httpsURL, caFile := gittest.HTTPS(t, root)
	t.Setenv("SSL_CERT_FILE", caFile)
	sub := gittest.NewRepo(t, root, "sub")
	sub.Commit("sub", map[string]string{"lib.txt": "lib\n"})
	sub.Push()
	repo := gittest.NewRepo(t, root, "repo")
	repo.Commit("one", map[string]string{"README": "one\n", "bin/run*": "#!/bin/sh\n", "docs/guide.md": "guide\n"})
	repo.Git("submodule", "add", "-q", gitURL+"sub.git", "vendor/sub")
	first := repo.Commit("two", map[string]string{"README": "two\n"})
	repo.Git("tag", "v1")
	repo.Push()

	df := "FROM scratch\n" +
		"ADD " + httpsURL + "repo.git#v1:docs /docs/\n" +
		"ADD --chown=5:6 --checksum=" + first[:10] + " " + httpsURL + "repo.git#v1 /owned/\n" +
		"ADD " + gitURL + "repo.git /git\n" +
		"ADD --keep-git-dir=true --exclude=**/*.md --exclude=bin " + gitURL + "repo.git#main /kept\n"
	dir := contextDir(t, map[string]string{"Dockerfile": df})
	cacheDir := t.TempDir()
	out, _ := testBuild(t, dir, cacheDir)
	l := listing(t, out)
	wantLines(t, l,
		"/git dir 0755 0:0", "/git/README file 0644 0:0 size=4 ", "/git/bin/run file 0755 0:0 ", "/git/vendor/sub/lib.txt file 0644 0:0 ",
		"/docs/guide.md file 0644 0:0 ",
		"/owned/README file 0644 5:6 ", "/owned/bin dir 0755 5:6",
		"/kept/README file 0644 0:0 ", "/kept/.git dir 0755 0:0", "/kept/.git/HEAD file 0644 0:0 ",
	)
	for _, p := range []string{"/git/.git ", "/docs/README", "/docs/docs", "/owned/.git ", "/kept/docs/guide.md", "/kept/bin"} {
		if strings.Contains(l, p) {
			t.Errorf("%s is in the image", p)
		}
	}

	_, res2 := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res2); got != "CCCCC" {
		t.Errorf("rebuild: %s, want all cached", got)
	}
	repo.Commit("three", map[string]string{"README": "three\n"})
	repo.Push()
	out3, res3 := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res3); got != "CCCRR" {
		t.Errorf("after a new commit on main: %s, want the ADDs of v1 cached, of main run", got)
	}
	if l := lineOf(t, out3, "/git/README"); !strings.Contains(l, "size=6 ") {
		t.Errorf("/git/README: %s", l)
	}

	bad := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nADD --checksum=ffff " + gitURL + "repo.git /x\n"})
	if _, _, err := tryBuild(t, bad, t.TempDir()); err == nil || !strings.Contains(err.Error(), "Dockerfile:2: ") || !strings.Contains(err.Error(), "expected checksum to match ffff") {
		t.Errorf("a checksum that does not match: %v", err)
	}
}

// ADD of a private repository: the secret GIT_AUTH_TOKEN authenticates
// it, as in BuildKit, and keys nothing: another token finds the step in
// the cache.
func TestAddGitToken(t *testing.T) {
	root := t.TempDir()
	token := func(s string) string {
		return "basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+s))
	}
	url, caFile := gittest.HTTPSAuth(t, root, token("s3cret"))
	t.Setenv("SSL_CERT_FILE", caFile)
	repo := gittest.NewRepo(t, root, "private")
	repo.Commit("one", map[string]string{"README": "private\n"})
	repo.Push()
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nADD " + url + "private.git /src\n"})
	cacheDir := t.TempDir()
	if _, _, err := tryBuild(t, dir, cacheDir); err == nil || !strings.Contains(err.Error(), "Dockerfile:2: ") {
		t.Errorf("without the token: %v", err)
	}
	out, _ := testBuild(t, dir, cacheDir, func(o *Options) { o.Secrets = map[string][]byte{"GIT_AUTH_TOKEN": []byte("s3cret")} })
	wantLines(t, listing(t, out), "/src/README file 0644 0:0 size=8 ")
	// The host's own token wins over the generic one; the secrets differ,
	// the commit does not, and the step is found in the cache.
	host := strings.TrimSuffix(strings.TrimPrefix(url, "https://"), "/git/")
	_, res := testBuild(t, dir, cacheDir, func(o *Options) {
		o.Secrets = map[string][]byte{"GIT_AUTH_TOKEN." + host: []byte("s3cret"), "GIT_AUTH_TOKEN": []byte("wrong")}
	})
	if got := cachedSteps(res); got != "CC" {
		t.Errorf("with other secrets: %s, want the ADD cached", got)
	}
}
