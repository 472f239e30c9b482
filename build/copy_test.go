package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// listingOf builds files and returns the listing lines under prefix.
func copyListing(t *testing.T, files map[string]string, prefix string) string {
	t.Helper()
	dir := withBusybox(t, contextDir(t, files))
	out, _ := testBuild(t, dir, t.TempDir())
	var lines []string
	for _, l := range strings.Split(listing(t, out), "\n") {
		if strings.HasPrefix(l, prefix) {
			// Keep path, type, mode and owner: content is checked elsewhere.
			f := strings.Fields(l)
			if len(f) > 4 {
				f = f[:4]
			}
			lines = append(lines, strings.Join(f, " "))
		}
	}
	return strings.Join(lines, "\n")
}

func TestCopyPathRules(t *testing.T) {
	files := map[string]string{
		"Dockerfile": busyboxPrelude + `COPY a.txt /dst/
COPY a.txt /renamed.txt
COPY dir /contents/
COPY dir /contents2
COPY *.md /docs/
COPY a.txt b.txt /multi/
WORKDIR /wd
COPY a.txt rel/
COPY a.txt .
`,
		"a.txt": "a", "b.txt": "b", "x.md": "x", "y.md": "y",
		"dir/f.txt": "f", "dir/sub/g.txt": "g",
	}
	got := copyListing(t, files, "/")
	for _, want := range []string{
		"/dst dir 0755 0:0", "/dst/a.txt file 0644 0:0",
		"/renamed.txt file 0644 0:0",
		"/contents/f.txt file 0644 0:0", "/contents/sub/g.txt file 0644 0:0",
		"/contents2/f.txt file 0644 0:0",
		"/docs/x.md file", "/docs/y.md file",
		"/multi/a.txt file", "/multi/b.txt file",
		"/wd/rel/a.txt file", "/wd/a.txt file",
	} {
		if !strings.Contains(got+"\n", want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "/contents/dir") {
		t.Error("COPY dir copied the directory itself, not its contents")
	}
}

func TestCopyChownChmod(t *testing.T) {
	files := map[string]string{
		"Dockerfile": busyboxPrelude + `RUN mkdir -p /etc && echo 'app:x:1000:1001::/home/app:/bin/sh' > /etc/passwd && echo 'grp:x:2002:' > /etc/group
COPY --chown=app a.txt /byname/
COPY --chown=55 a.txt /numeric/
COPY --chown=app:grp a.txt /both/
COPY --chmod=0751 dir /modes/
COPY --chown=1:2 --chmod=600 a.txt /new/deep/
`,
		"a.txt": "a", "dir/f.txt": "f",
	}
	got := copyListing(t, files, "/")
	for _, want := range []string{
		"/byname/a.txt file 0644 1000:1001",
		"/numeric/a.txt file 0644 55:55",
		"/both/a.txt file 0644 1000:2002",
		"/modes dir 0751 0:0", "/modes/f.txt file 0751 0:0",
		// Directories COPY creates get the --chmod mode and --chown owner.
		"/new dir 0600 1:2", "/new/deep dir 0600 1:2", "/new/deep/a.txt file 0600 1:2",
	} {
		if !strings.Contains(got+"\n", want+"\n") {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestCopyFollowsImageSymlinks(t *testing.T) {
	// Debian's /bin is a symlink to usr/bin: a COPY to /bin/ must land in
	// /usr/bin and leave the link alone.
	files := map[string]string{
		"Dockerfile": busyboxPrelude + `RUN mkdir -p /usr/local/real && ln -s real /usr/local/link
COPY a.txt /usr/local/link/
`,
		"a.txt": "a",
	}
	got := copyListing(t, files, "/usr/local")
	if !strings.Contains(got, "/usr/local/real/a.txt file") || !strings.Contains(got, "/usr/local/link symlink") {
		t.Errorf("got\n%s", got)
	}
}

// Context symlinks are copied as symlinks, and resolve inside the context
// when they are the source itself: nothing of the host leaks in.
func TestHostileContext(t *testing.T) {
	testHostileContext(t)
}

// testHostileContext copies symlinks of a context that point out of it,
// with opts (a driver) if any.
func testHostileContext(t *testing.T, opts ...func(*Options)) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("host secret"), 0o600)
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": busyboxPrelude + "COPY tree /tree/\n",
		"tree/a":     "a",
	}))
	os.Symlink(secret, filepath.Join(dir, "tree/abs"))
	os.Symlink("../../../../../../../../.."+secret, filepath.Join(dir, "tree/rel"))
	out, _ := testBuild(t, dir, t.TempDir(), opts...)
	l := listing(t, out)
	if !strings.Contains(l, "/tree/abs symlink 0777 0:0 -> "+secret) {
		t.Errorf("absolute symlink not kept as a symlink:\n%s", l)
	}
	if strings.Contains(l, "size=11") {
		t.Error("the host file's content reached the image")
	}

	for _, src := range []string{"tree/abs", "../secret", "tree/rel"} {
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(busyboxPrelude+"COPY "+src+" /x\n"), 0o644)
		_, _, err := tryBuild(t, dir, t.TempDir(), opts...)
		if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:4: [4/4] COPY "+src+" /x: ") {
			t.Errorf("COPY %s: err = %v, want a failure at line 4", src, err)
		}
	}
}

func TestCopyErrors(t *testing.T) {
	for _, tc := range []struct{ df, want string }{
		{"COPY missing.txt /x\n", `Dockerfile:4: [4/4] COPY missing.txt /x: missing.txt: not found in the build context`},
		{"COPY a.txt b.txt /notadir\n", `Dockerfile:4: [4/4] COPY a.txt b.txt /notadir: when copying more than one file, the destination must be a directory and end with a /`},
		{"COPY --chown=ghost a.txt /x\n", `Dockerfile:4: [4/4] COPY --chown=ghost a.txt /x: --chown=ghost: unable to find user ghost: no matching entries in passwd file`},
		{"COPY --chmod=999 a.txt /x\n", `Dockerfile:4: [4/4] COPY --chmod=999 a.txt /x: invalid chmod parameter: '999'. it should be octal string and between 0 and 07777`},
		{"RUN touch /f\nCOPY dir /f\n", `Dockerfile:5: [5/5] COPY dir /f: cannot copy to non-directory: /f`},
	} {
		dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + tc.df, "a.txt": "a", "b.txt": "b", "dir/x": "x"}))
		_, _, err := tryBuild(t, dir, t.TempDir())
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.df, err, tc.want)
		}
	}
}

func TestDockerignoredDockerfileStillBuilds(t *testing.T) {
	files := map[string]string{
		"Dockerfile":    busyboxPrelude + "COPY . /ctx/\n",
		".dockerignore": "Dockerfile\nsecret*\n",
		"keep.txt":      "k", "secret.key": "s",
	}
	got := copyListing(t, files, "/ctx")
	if !strings.Contains(got, "/ctx/keep.txt") || strings.Contains(got, "secret") || strings.Contains(got, "/ctx/Dockerfile") {
		t.Errorf("got\n%s", got)
	}
}

// A build that hits every step reads no layer: COPY --chown=name is keyed
// by the name (the parent key fixes the /etc/passwd it resolves in), so
// planning it unpacks nothing.
func TestCachedCopyChownUnpacksNothing(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": busyboxPrelude + `RUN echo 'app:x:1000:1001::/home/app:/bin/sh' > /etc/passwd
COPY --chown=app a.txt /byname/
ADD --chown=app a.txt /added/
`,
		"a.txt": "a",
	}))
	cacheDir := t.TempDir()
	out, _ := testBuild(t, dir, cacheDir)
	if line := lineOf(t, out, "/byname/a.txt"); !strings.Contains(line, " 1000:1001 ") {
		t.Fatalf("/byname/a.txt: %s", line)
	}
	layers := filepath.Join(cacheDir, "layers", "sha256")
	if err := os.RemoveAll(layers); err != nil {
		t.Fatal(err)
	}
	_, res := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res); got != "CCCCCC" {
		t.Fatalf("steps %s, want all cached", got)
	}
	if entries, _ := os.ReadDir(layers); len(entries) != 0 {
		t.Errorf("a fully cached build unpacked %d layers", len(entries))
	}
}
