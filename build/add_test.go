package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
)

func TestAddURL(t *testing.T) {
	var hits atomic.Int32
	body := "downloaded content\n"
	modified := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
		w.Write([]byte(body))
	}))
	defer srv.Close()
	sum := digest.FromString(body)

	df := busyboxPrelude + "ADD " + srv.URL + "/files/tool.sh /opt/\n" +
		"ADD --checksum=" + sum.String() + " " + srv.URL + "/pinned /pinned\n" +
		"RUN stat -c '%a %Y' /opt/tool.sh > /stat\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	cacheDir := t.TempDir()
	out, _ := testBuild(t, dir, cacheDir)
	if l := lineOf(t, out, "/opt/tool.sh"); !strings.HasPrefix(l, "/opt/tool.sh file 0600 0:0 size=19 sha256="+sum.Encoded()) {
		t.Errorf("downloaded file: %s", l)
	}
	if l := lineOf(t, out, "/pinned"); !strings.Contains(l, sum.Encoded()) {
		t.Errorf("pinned file: %s", l)
	}
	if l := lineOf(t, out, "/stat"); !strings.Contains(l, digest.FromString("600 1577934245\n").Encoded()) {
		t.Errorf("mode and mtime from Last-Modified: %s", l)
	}
	if got := hits.Load(); got != 2 {
		t.Fatalf("first build: %d requests, want 2", got)
	}
	// A rebuild downloads the unpinned file again, to see whether it
	// changed; the pinned one is keyed by its checksum and not fetched.
	_, res := testBuild(t, dir, cacheDir)
	if got := hits.Load(); got != 3 {
		t.Errorf("rebuild: %d requests in all, want 3", got)
	}
	if cachedSteps(res) != "CCCCCC" {
		t.Errorf("rebuild: %s", cachedSteps(res))
	}
}

func TestAddErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("content"))
	}))
	defer srv.Close()
	wrong := digest.FromString("other")
	for _, tc := range []struct{ add, want string }{
		{"ADD " + srv.URL + "/missing /x", "download " + srv.URL + "/missing: 404 Not Found"},
		{"ADD --checksum=" + wrong.String() + " " + srv.URL + "/f /x", "checksum mismatch"},
		{"ADD --checksum=" + wrong.String() + " a.txt /x", "checksum requires HTTP(S) or Git sources"},
		{"ADD --checksum=" + wrong.String() + " " + srv.URL + "/f a.txt /x/", "checksum can't be specified for multiple sources"},
		{"ADD --checksum=md5:x " + srv.URL + "/f /x", "--checksum=md5:x"},
		{"ADD https://example.com/r.git?fetch-by-commit=1 /src", "ADD https://example.com/r.git?fetch-by-commit=1: the git URL query fetch-by-commit is not supported yet"},
		{"ADD --keep-git-dir=false https://example.com/r.git?keep-git-dir /src", "inconsistent keep-git-dir configuration"},
		{"ADD a.txt " + srv.URL + "/f /notadir", "the destination must be a directory and end with a /"},
	} {
		dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\n" + tc.add + "\n", "a.txt": "a"})
		_, _, err := tryBuild(t, dir, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "Dockerfile:2: ") {
			t.Errorf("%s:\n got %v\nwant line 2 and %q", tc.add, err, tc.want)
		}
	}
}

// checkAfterStep runs check when each step finishes.
type checkAfterStep struct {
	discardReporter
	check func(StepInfo)
}

func (c checkAfterStep) StepFinished(info StepInfo, _ StepResult, _ error) { c.check(info) }

// A download lives as long as its step: gone once the step ran or hit,
// and after a checksum mismatch.
func TestAddRemovesDownloads(t *testing.T) {
	body := "downloaded\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	defer srv.Close()
	cacheDir := t.TempDir()
	leftovers := func() []string {
		m, _ := filepath.Glob(filepath.Join(cacheDir, "tmp", "*", "add-*"))
		return m
	}
	reporter := func(o *Options) {
		o.Reporter = checkAfterStep{check: func(info StepInfo) {
			if l := leftovers(); len(l) > 0 {
				t.Errorf("after %q: downloads left: %v", info.Instruction, l)
			}
		}}
	}
	df := busyboxPrelude + "ADD " + srv.URL + "/f /f\nRUN cat /f\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	testBuild(t, dir, cacheDir, reporter) // runs
	testBuild(t, dir, cacheDir, reporter) // hits
	bad := busyboxPrelude + "ADD --checksum=" + digest.FromString("other").String() + " " + srv.URL + "/f /f\n"
	dir = withBusybox(t, contextDir(t, map[string]string{"Dockerfile": bad}))
	if _, _, err := tryBuild(t, dir, cacheDir, reporter); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("err = %v", err)
	}
}

// ADD --unpack=false copies a local archive as it is; ADD --unpack
// unpacks a downloaded one, which ADD alone copies, as in BuildKit.
func TestAddUnpack(t *testing.T) {
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "app/bin", Mode: 0o755, Size: 2, Uid: 3, Gid: 4})
	tw.Write([]byte("hi"))
	tw.Close()
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tgz.Bytes()) }))
	defer srv.Close()
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\n" +
		"ADD --unpack=false app.tar.gz /kept/\n" +
		"ADD --unpack=true app.tar.gz /local/\n" +
		"ADD --unpack " + srv.URL + "/dl.tar.gz /remote/\n" +
		"ADD " + srv.URL + "/dl.tar.gz /plain/\n" +
		"ADD --unpack --chown=9:9 " + srv.URL + "/dl.tar.gz /owned\n"})
	if err := os.WriteFile(filepath.Join(dir, "app.tar.gz"), tgz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := testBuild(t, dir, t.TempDir())
	wantLines(t, listing(t, out),
		"/kept/app.tar.gz file 0644 0:0 ", "/local/app/bin file 0755 3:4 ",
		"/remote/app/bin file 0755 3:4 ", "/plain/dl.tar.gz file 0600 0:0 ",
		"/owned dir 0755 9:9", "/owned/app/bin file 0755 9:9 ")
	for _, p := range []string{"/kept/app/bin", "/remote/dl.tar.gz", "/plain/app"} {
		if lineOf(t, out, p) != "" {
			t.Errorf("%s is in the image", p)
		}
	}
}
