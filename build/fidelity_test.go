package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
	digest "github.com/opencontainers/go-digest"
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

// writeTar writes a tar of hdrs into dir/name; a regular file's content is
// its Linkname.
func writeTar(t *testing.T, dir, name string, hdrs ...*tar.Header) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h := *h
		body := ""
		if h.Typeflag == tar.TypeReg {
			body, h.Linkname, h.Size = h.Linkname, "", int64(len(h.Linkname))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ADD unpacks a tar whose first header comes after PAX records (GNU tar
// and Go write them for long names, xattrs and big ids), and skips a
// global header (git archive writes one) without making anything of its
// name.
func TestAddTarWithPAXHeaders(t *testing.T) {
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM scratch
ADD name.tar xattr.tar /pax/
ADD global.tar /global/
`})
	long := strings.Repeat("n", 150)
	writeTar(t, dir, "name.tar", &tar.Header{Typeflag: tar.TypeReg, Name: long, Linkname: "long", Mode: 0o640, Uid: 7, Gid: 8})
	writeTar(t, dir, "xattr.tar", &tar.Header{Typeflag: tar.TypeReg, Name: "x", Linkname: "x", Mode: 0o600, Uid: 3_000_000, Gid: 9,
		PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v"}})
	writeTar(t, dir, "global.tar",
		&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "0123abcd"}},
		&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "/tmp/GlobalHead.42.1", PAXRecords: map[string]string{"comment": "c"}},
		&tar.Header{Typeflag: tar.TypeDir, Name: "repo/", Mode: 0o755},
		&tar.Header{Typeflag: tar.TypeReg, Name: "repo/README", Linkname: "hi", Mode: 0o644},
	)
	out, _ := testBuild(t, dir, t.TempDir())
	l := listing(t, out)
	wantLines(t, l, "/pax/"+long+" file 0640 7:8 ", "/pax/x file 0600 3000000:9 ",
		"/global/repo dir 0755 0:0", "/global/repo/README file 0644 0:0 ")
	if !strings.Contains(lineOf(t, out, "/pax/x"), "user.k") {
		t.Errorf("xattr lost: %s", lineOf(t, out, "/pax/x"))
	}
	for _, p := range []string{"/pax/name.tar", "/global/tmp", "/global/pax_global_header", "/global/global.tar"} {
		if lineOf(t, out, p) != "" {
			t.Errorf("%s is in the image", p)
		}
	}
}

// WORKDIR keeps an absolute path as written, trailing slash included, in
// the config and the history, as BuildKit does; a relative one is joined
// to the current dir and cleaned. The directory is made either way.
func TestWorkdirKeepsTrailingSlash(t *testing.T) {
	for _, tc := range []struct{ df, want, dir string }{
		{"WORKDIR /tmp/\n", "/tmp/", "/tmp"},
		{"WORKDIR /a/\nWORKDIR b/\n", "/a/b", "/a/b"},
		{"WORKDIR /x/../y/\nWORKDIR /y\n", "/y", "/y"},
		{"WORKDIR /w\n", "/w", "/w"},
	} {
		dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + tc.df + "RUN pwd > /pwd\n"}))
		out, _ := testBuild(t, dir, t.TempDir())
		cfg, err := imagetest.ReadConfig(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Config.WorkingDir; got != tc.want {
			t.Errorf("%q: WorkingDir %q, want %q", tc.df, got, tc.want)
		}
		if h := cfg.History[len(cfg.History)-2].CreatedBy; h != "WORKDIR "+tc.want {
			t.Errorf("%q: history %q", tc.df, h)
		}
		wantLines(t, listing(t, out), tc.dir+" dir 0755 0:0", "/pwd file 0644 0:0 size="+strconv.Itoa(len(tc.dir)+1)+" ")
	}
	// A ".." in an absolute dir stays too; the directory made is the
	// clean one.
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nWORKDIR /x/../y/\n"})
	out, _ := testBuild(t, dir, t.TempDir())
	if cfg, err := imagetest.ReadConfig(out); err != nil || cfg.Config.WorkingDir != "/x/../y/" {
		t.Errorf("WorkingDir %q, %v", cfg.Config.WorkingDir, err)
	}
	if l := strings.TrimSpace(listing(t, out)); l != "/y dir 0755 0:0" {
		t.Errorf("WORKDIR /x/../y/ made\n%s", l)
	}
}

// One wildcard matching several files onto a destination without a
// trailing slash copies them one after the other, the last one winning,
// as in BuildKit; several source arguments need a directory destination.
func TestCopyWildcardOntoFile(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": `FROM scratch AS src
COPY busybox /bin/busybox
FROM scratch
COPY *.txt /out
COPY d* /merged
COPY --from=src /bin/busybo? /bb
`,
		"a.txt": "a", "b.txt": "bb", "d1/f": "f", "d2.txt": "d2",
	}))
	out, _ := testBuild(t, dir, t.TempDir())
	wantLines(t, listing(t, out), "/out file 0644 0:0 size=2 ", "/merged dir 0755 0:0", "/merged/f file 0644 0:0 ",
		"/merged/d2.txt file 0644 0:0 ", "/bb file 0755 0:0 ")

	for _, df := range []string{"COPY a.txt nomatch* /x\n", "COPY a.txt <<EOF /x\nhi\nEOF\n"} {
		dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\n" + df, "a.txt": "a"})
		_, _, err := tryBuild(t, dir, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "Dockerfile:2: ") || !strings.Contains(err.Error(), "the destination must be a directory and end with a /") {
			t.Errorf("%q: %v", df, err)
		}
	}
}

// A wildcard that matches nothing makes nothing, not even the
// destination; ADD makes an archive's destination 0755 whatever --chmod
// says, as BuildKit's unpack does, parents included.
func TestCopyEmptyWildcardMakesNothing(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM scratch AS src
FROM scratch
COPY nomatch* /never/
COPY --from=src /nomatch* /never2/deep/
ADD --chmod=700 app.tar nomatch* /opt/app/
COPY --chmod=700 a.txt nomatch* /new/sub/
`,
		"a.txt": "a",
	})
	writeTar(t, dir, "app.tar", &tar.Header{Typeflag: tar.TypeReg, Name: "f", Linkname: "f", Mode: 0o644})
	out, _ := testBuild(t, dir, t.TempDir())
	l := listing(t, out)
	wantLines(t, l, "/opt dir 0755 0:0", "/opt/app dir 0755 0:0", "/opt/app/f file 0644 0:0 ",
		"/new dir 0700 0:0", "/new/sub dir 0700 0:0", "/new/sub/a.txt file 0700 0:0 ")
	if strings.Contains(l, "/never") {
		t.Errorf("an empty wildcard made its destination:\n%s", l)
	}
}

// Cache mounts of one id with different uid, gid or mode are different
// caches, as BuildKit keys a cache by its id and the directory it starts
// from; one with none of them given is another still.
func TestCacheMountOwnerSeparatesCaches(t *testing.T) {
	df := busyboxPrelude + `RUN --mount=type=cache,target=/c,uid=1 touch /c/one
RUN --mount=type=cache,target=/c,uid=2 ls /c > /uid2 && stat -c '%u %a' /c >> /uid2
RUN --mount=type=cache,target=/c,uid=1,mode=0700 ls /c > /mode && stat -c '%u %a' /c >> /mode
RUN --mount=type=cache,target=/c ls /c > /none
RUN --mount=type=cache,target=/c,uid=1 ls /c > /uid1 && stat -c '%u %a' /c >> /uid1
`
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	out, _ := testBuild(t, dir, t.TempDir())
	for p, content := range map[string]string{"/uid2": "2 755\n", "/mode": "1 700\n", "/none": "", "/uid1": "one\n1 755\n"} {
		if l := lineOf(t, out, p); !strings.Contains(l, digest.FromString(content).Encoded()) {
			t.Errorf("%s: %s, want %q", p, l, content)
		}
	}
}

// WORKDIR makes its directory owned by the USER: a name from the image's
// /etc/passwd, or numbers. A name the image does not know is an error,
// as for --chown (BuildKit silently uses 0:0; see the README).
func TestWorkdirOwner(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + `RUN echo 'app:x:1000:1001::/home/app:/bin/sh' > /etc/passwd
USER app
WORKDIR /named
USER 33
WORKDIR /numeric
USER 5:6
WORKDIR /both/deep
`}))
	out, _ := testBuild(t, dir, t.TempDir())
	wantLines(t, listing(t, out), "/named dir 0755 1000:1001", "/numeric dir 0755 33:33", "/both dir 0755 5:6", "/both/deep dir 0755 5:6")

	dir = contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nUSER ghost\nWORKDIR /w\n"})
	_, _, err := tryBuild(t, dir, t.TempDir())
	if want := "Dockerfile:3: [3/3] WORKDIR /w: user ghost: unable to find user ghost"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// --chown=root and an empty group need no /etc/passwd, as in BuildKit:
// FROM scratch takes them.
func TestCopyChownRootFromScratch(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY --chown=root:root a.txt /r/\nCOPY --chown=7: a.txt /e/\nCOPY --chown=7:root a.txt /g/\n",
		"a.txt":      "a",
	})
	out, _ := testBuild(t, dir, t.TempDir())
	wantLines(t, listing(t, out), "/r/a.txt file 0644 0:0 ", "/e/a.txt file 0644 7:7 ", "/g/a.txt file 0644 7:0 ")
}
