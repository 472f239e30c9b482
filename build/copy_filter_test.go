package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// COPY --parents keeps each source's path below the context root, with
// the directories above it copied with their own modes, as in BuildKit.
func TestCopyParentsFromContext(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM scratch
COPY --parents foo1/foo2/bar /
WORKDIR /test
COPY --parents foo1/foo2/ba* .
COPY --parents --chown=5:6 --chmod=0750 ./foo1/./foo2/bar /pivot/
`,
		"foo1/foo2/bar": "testing", "foo1/foo2/baz": "testing2", "foo1/other": "o",
	})
	os.Chmod(filepath.Join(dir, "foo1"), 0o700)
	os.Chmod(filepath.Join(dir, "foo1/foo2"), 0o710)
	os.Chmod(filepath.Join(dir, "foo1/foo2/bar"), 0o600)
	out, _ := testBuild(t, dir, t.TempDir())
	l := listing(t, out)
	wantLines(t, l,
		"/foo1 dir 0700 0:0", "/foo1/foo2 dir 0710 0:0", "/foo1/foo2/bar file 0600 0:0 size=7 ",
		"/test/foo1 dir 0700 0:0", "/test/foo1/foo2 dir 0710 0:0", "/test/foo1/foo2/bar file 0600 0:0 ", "/test/foo1/foo2/baz file 0644 0:0 ",
		"/pivot dir 0750 5:6", "/pivot/foo2 dir 0750 5:6", "/pivot/foo2/bar file 0750 5:6 ",
	)
	for _, p := range []string{"/foo1/other", "/foo1/foo2/baz", "/test/foo1/other", "/pivot/foo1", "/pivot/foo2/baz"} {
		if lineOf(t, out, p) != "" {
			t.Errorf("%s was copied", p)
		}
	}
}

// BuildKit's own --parents cases (dockerfile_parents_test.go), from a
// stage: "/./" pivots, several of them, wildcards before and after one.
func TestCopyParentsFromStage(t *testing.T) {
	df := busyboxPrelude + `WORKDIR /test
RUN mkdir -p a/b/c/d/e a/b2/c/d/e a/b/c2/d/e a/b/c2/d/e2 && touch a/b/c/d/foo a/b/c/d/e/bay a/b2/c/d/e/bar a/b/c2/d/e/baz a/b/c2/d/e2/baz && chmod 0700 a/b && chown 7:8 a/b/c
FROM scratch
COPY --from=0 --parents /test/a/b/./c/d /middle/
COPY --from=0 --parents /test/a/b/c/d/. /end/
COPY --from=0 --parents ./test/a/b/c/d /start/
COPY --from=0 --parents /test/a/./b/./c /double/
COPY --from=0 --parents /test/a/./*/c /wildcard/
COPY --from=0 --parents /test/a/b*/./c/**/e /doublewildcard/
COPY --from=0 --parents /test/a/b/c*/./d/**/baz /test/a/b*/./c/**/bar /doubleinputs/
COPY --from=0 --parents /test/a/zz*/c /nonexistent/
COPY --from=0 --parents /test/a/b/./zz* /afterpivot/
`
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	out, _ := testBuild(t, dir, t.TempDir())
	l := listing(t, out)
	wantLines(t, l,
		"/middle/c dir 0755 7:8", "/middle/c/d dir 0755 0:0", "/middle/c/d/e dir 0755 0:0", "/middle/c/d/foo file 0644 0:0 ",
		"/end/test dir 0755 0:0", "/end/test/a/b dir 0700 0:0", "/end/test/a/b/c/d/e/bay file 0644 0:0 ", "/end/test/a/b/c/d/foo file 0644 0:0 ",
		"/start/test/a/b/c/d/e/bay file 0644 0:0 ",
		"/double/b dir 0700 0:0", "/double/b/c/d/e/bay file 0644 0:0 ", "/double/b/c/d/foo file 0644 0:0 ",
		"/wildcard/b/c/d/e/bay file 0644 0:0 ", "/wildcard/b2/c/d/e/bar file 0644 0:0 ",
		"/doublewildcard/c/d/e/bay file 0644 0:0 ", "/doublewildcard/c/d/e/bar file 0644 0:0 ",
		"/doubleinputs/d/e/baz file 0644 0:0 ", "/doubleinputs/d/e2/baz file 0644 0:0 ", "/doubleinputs/c/d/e/bar file 0644 0:0 ",
		"/nonexistent dir 0755 0:0", "/afterpivot dir 0755 0:0",
	)
	for _, p := range []string{"/middle/a", "/middle/e", "/middle/test", "/double/a", "/wildcard/b/c2", "/doublewildcard/c2", "/doubleinputs/d/e/bay", "/doubleinputs/c/d/foo", "/nonexistent/", "/afterpivot/"} {
		if strings.Contains(l, p) {
			t.Errorf("%s was copied", p)
		}
	}

	bad := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "FROM scratch\nCOPY --from=0 --parents /test/nonexistent-file /out/\n"}))
	if _, _, err := tryBuild(t, bad, t.TempDir()); err == nil || !strings.Contains(err.Error(), "Dockerfile:5: ") || !strings.Contains(err.Error(), "/test/nonexistent-file: not found") {
		t.Errorf("a missing path without wildcards: %v", err)
	}
}

// COPY and ADD --exclude leave out what their patterns match below each
// source (never the source itself), as in BuildKit's
// exclude_patterns_test.go; "!" patterns bring files back.
func TestCopyExclude(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM scratch
COPY --exclude=*/*.png --exclude=*/*.jpeg dir1 dir2 /1/
COPY --exclude=*/*.png --exclude=*/*.jpeg . /all/
ADD --exclude=*.mp3 dir3/ /3/
COPY --exclude=*.mp3 --exclude=*.jpeg --exclude=*.png --exclude=*.pdf --exclude=*.txt dir* /4/
ADD --exclude=* dir* /6
COPY --exclude=*.txt dir1/file-102.txt /7/
COPY --exclude=* --exclude=!dir1/file-102.txt . /8/
`,
		"dir1/file-101.png": "2", "dir1/file-102.txt": "3", "dir1/file-103.jpeg": "4",
		"dir2/file-201.pdf": "6", "dir2/file-202.jpeg": "7", "dir2/file-203.png": "8",
		"dir3/file-301.mp3": "9", "dir3/file-302.mpeg": "10", "dir4/file-401.txt": "11",
	})
	os.Symlink("file-401.txt", filepath.Join(dir, "dir4/file-402.txt"))
	out, _ := testBuild(t, dir, t.TempDir())
	l := listing(t, out)
	wantLines(t, l,
		// The patterns are below each source: dir1's files are at its top.
		"/1/file-101.png file 0644 0:0 ", "/1/file-201.pdf file 0644 0:0 ",
		"/all/dir1/file-102.txt file 0644 0:0 ", "/all/dir2/file-201.pdf file 0644 0:0 ", "/all/dir3/file-301.mp3 file 0644 0:0 ",
		"/3/file-302.mpeg file 0644 0:0 ",
		"/4/file-302.mpeg file 0644 0:0 ", "/all/dir4/file-402.txt symlink 0777 0:0 -> file-401.txt",
		"/6 dir 0755 0:0",
		"/7/file-102.txt file 0644 0:0 ",
		"/8/dir1 dir 0755 0:0", "/8/dir1/file-102.txt file 0644 0:0 ",
	)
	for _, p := range []string{"/all/dir1/file-101.png", "/all/dir1/file-103.jpeg", "/all/dir2/file-203.png", "/3/file-301.mp3",
		"/4/file-101.png", "/4/file-102.txt", "/4/file-201.pdf", "/4/file-301.mp3", "/4/file-401.txt", "/4/file-402.txt", "/6/", "/8/dir2", "/8/Dockerfile"} {
		if strings.Contains(l, p) {
			t.Errorf("%s was copied", p)
		}
	}
}

// A symbolic --chmod changes each copied entry's own mode; the
// directories a copy makes are 0755, as in BuildKit.
func TestCopySymbolicChmod(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM scratch
COPY --chmod=u+x,g=rx,o= tree /t/
COPY --chmod=go-w tree/run.sh /new/deep/
COPY --chmod=a+X tree /x/
COPY --chmod=u+s <<EOF /doc
hi
EOF
`,
		"tree/data": "d", "tree/run.sh": "r", "tree/sub/f": "f",
	})
	os.Chmod(filepath.Join(dir, "tree/run.sh"), 0o775)
	os.Chmod(filepath.Join(dir, "tree/sub"), 0o700)
	out, _ := testBuild(t, dir, t.TempDir())
	wantLines(t, listing(t, out),
		"/t dir 0755 0:0", "/t/data file 0750 0:0 ", "/t/run.sh file 0750 0:0 ", "/t/sub dir 0750 0:0", "/t/sub/f file 0750 0:0 ",
		"/new dir 0755 0:0", "/new/deep dir 0755 0:0", "/new/deep/run.sh file 0755 0:0 ",
		"/x/data file 0644 0:0 ", "/x/run.sh file 0775 0:0 ", "/x/sub dir 0711 0:0",
		"/doc file 4644 0:0 ",
	)
}
