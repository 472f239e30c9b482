package build

import (
	"archive/tar"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// COPY --link makes its layer on an empty root, as BuildKit's merge op
// does: the directories it makes are its own (0755, root, or the --chown
// owner), and stacked on the stage they replace what is there with the
// same name but another type (a symlink), and give their metadata to
// what is a directory there too. With --chmod it is a plain COPY, as in
// BuildKit.
func TestCopyLinkFiles(t *testing.T) { testCopyLinkFiles(t) }

// testCopyLinkFiles is TestCopyLinkFiles with opts (a driver) if any.
func testCopyLinkFiles(t *testing.T, opts ...func(*Options)) {
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": busyboxPrelude + `RUN mkdir -p /var/www /real /real2 && echo old > /var/www/old && chown 33:33 /var/www && chmod 0750 /var/www && ln -s /real /lnk && ln -s /real2 /lnk2
COPY --link a.txt /var/www/
COPY --link a.txt /lnk/
COPY --link --chown=5:6 a.txt /new/deep/
COPY --link --chmod=0700 a.txt /lnk2/
ADD --link app.tar /opt/
RUN ls -ld /lnk /lnk2 /var/www | cut -c1-10 > /seen
`,
		"a.txt": "a",
	}))
	writeTar(t, dir, "app.tar", &tar.Header{Typeflag: tar.TypeReg, Name: "bin/tool", Linkname: "t", Mode: 0o755})
	out, _ := testBuild(t, dir, t.TempDir(), opts...)
	l := listing(t, out)
	wantLines(t, l,
		"/var dir 0755 0:0", "/var/www dir 0755 0:0", "/var/www/a.txt file 0644 0:0 ", "/var/www/old file 0644 0:0 ",
		"/lnk dir 0755 0:0", "/lnk/a.txt file 0644 0:0 ",
		"/new dir 0755 5:6", "/new/deep dir 0755 5:6", "/new/deep/a.txt file 0644 5:6 ",
		"/lnk2 symlink 0777 0:0 -> /real2", "/real2/a.txt file 0700 0:0 ",
		"/opt dir 0755 0:0", "/opt/bin/tool file 0755 0:0 ",
		// A RUN after the linked layers sees them stacked: /lnk a
		// directory, /lnk2 still a symlink, /var/www 0755.
		"/seen file 0644 0:0 size=33 sha256="+sha256Hex("drwxr-xr-x\nlrwxrwxrwx\ndrwxr-xr-x\n"),
	)
	if strings.Contains(l, "/real/a.txt") {
		t.Error("a linked copy followed a symlink of the layers below")
	}

	_, layers := layerHeaders(t, out)
	var names []string
	for _, h := range layers[3] { // COPY --link a.txt /var/www/
		names = append(names, h.Name)
	}
	if want := []string{"var/", "var/www/", "var/www/a.txt"}; !slices.Equal(names, want) {
		t.Errorf("the linked layer holds %q, want %q", names, want)
	}
}

// A linked layer is keyed without its parent: a changed base reuses it,
// and the steps after it, which key on both, run again.
func TestCopyLinkReusedOnNewBase(t *testing.T) { testCopyLinkReusedOnNewBase(t) }

// testCopyLinkReusedOnNewBase is TestCopyLinkReusedOnNewBase with opts.
func testCopyLinkReusedOnNewBase(t *testing.T, opts ...func(*Options)) {
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": busyboxPrelude + `COPY base.txt /base.txt
COPY --link app.txt /app/
RUN cat /base.txt /app/app.txt > /both
`,
		"base.txt": "one\n", "app.txt": "app\n",
	}))
	cacheDir := t.TempDir()
	first, res1 := testBuild(t, dir, cacheDir, opts...)
	os.WriteFile(filepath.Join(dir, "base.txt"), []byte("two\n"), 0o644)
	second, res2 := testBuild(t, dir, cacheDir, opts...)
	if got := cachedSteps(res2); got != "CCCRCR" {
		t.Errorf("rebuild on a new base: %s, want the linked COPY cached and the RUN run", got)
	}
	if a, b := res1.Steps[4].Layer.DiffID, res2.Steps[4].Layer.DiffID; a != b {
		t.Errorf("the linked layer changed: %s, %s", a, b)
	}
	for out, want := range map[string]string{first: "one\napp\n", second: "two\napp\n"} {
		if l := lineOf(t, out, "/both"); !strings.Contains(l, "size="+strconv.Itoa(len(want))) {
			t.Errorf("/both: %s, want %q", l, want)
		}
	}

	bad := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY --link --chown=app a.txt /x\n", "a.txt": "a"})
	_, _, err := tryBuild(t, bad, t.TempDir())
	if want := "Dockerfile:2: [2/2] COPY --link --chown=app a.txt /x: --chown=app: user and group names can't be resolved when used with --link"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}
