package build

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/transport"
)

// aheadOutput makes the busybox base image as an archive, and an output
// archive path in a dir of its own, with the option that builds to it.
func aheadOutput(t *testing.T) (base, outDir, out string, toOut func(*Options)) {
	t.Helper()
	baseDir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude}))
	base, _ = testBuild(t, baseDir, t.TempDir())
	outDir = t.TempDir()
	out = filepath.Join(outDir, "app.tar")
	return base, outDir, out, func(o *Options) { o.Outputs = []transport.Ref{{Transport: transport.OCIArchive, Path: out}} }
}

// watchDir looks at the entries of dir every few milliseconds, until
// seen says one was what it looked for or stop is called; stop returns
// whether one was.
func watchDir(dir string, seen func(e os.DirEntry) bool) (stop func() bool) {
	var found atomic.Bool
	done, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		for !found.Load() {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if seen(e) {
					found.Store(true)
				}
			}
		}
	}()
	return func() bool {
		close(done)
		<-watched
		return found.Load()
	}
}

// A build whose step misses begins its archive at once, beside the
// output: the base layers are written while the steps run. A build that
// then fails leaves the archive in place as it was, and nothing beside
// it; one that makes the image already in place leaves that file alone.
func TestArchiveBegunAhead(t *testing.T) {
	base, outDir, out, toOut := aheadOutput(t)
	epoch := withEpoch(reproEpoch)
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM oci-archive:" + base + "\nCOPY a /a\n", "a": "a\n"})
	cacheDir := t.TempDir()
	testBuild(t, dir, cacheDir, toOut, epoch)
	before, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	inode := func() uint64 {
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	was := inode()

	// A failed build, watched for the archive begun beside the output.
	failing := contextDir(t, map[string]string{"Dockerfile": "FROM oci-archive:" + base + "\nCOPY a /b\nRUN sleep 1 && false\n", "a": "a\n"})
	stop := watchDir(outDir, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".app.tar.") })
	_, _, err = tryBuild(t, failing, cacheDir, toOut)
	seen := stop()
	if err == nil {
		t.Fatal("the failing build succeeded")
	}
	if !seen {
		t.Error("no archive was begun beside the output while the steps ran")
	}
	after, _ := os.ReadFile(out)
	if !bytes.Equal(after, before) || inode() != was {
		t.Error("the failed build changed the archive in place")
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 1 {
		t.Errorf("%d files beside the output after the failed build, want none", len(entries)-1)
	}

	// The same image again, every step run: the archive in place stays.
	testBuild(t, dir, cacheDir, toOut, epoch, func(o *Options) { o.NoCache = true })
	if inode() != was {
		t.Error("the archive of the same image was written again")
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 1 {
		t.Errorf("%d files beside the output, want none", len(entries)-1)
	}
}

// The layers of the steps before the first miss are begun ahead with the
// base's: while an edited late step runs, the archive already holds the
// cached layers before it. The archive is byte for byte the one a build
// that begins only the base's makes.
func TestArchiveAheadHoldsCachedLayers(t *testing.T) {
	base, outDir, out, toOut := aheadOutput(t)
	epoch := withEpoch(reproEpoch)
	df := func(run string) string { return "FROM oci-archive:" + base + "\nCOPY a /a\nRUN " + run + "\n" }
	dir := contextDir(t, map[string]string{"Dockerfile": df("true"), "a": "a\n"})
	cacheDir := t.TempDir()
	_, res := testBuild(t, dir, cacheDir, toOut, epoch)
	var copied string
	for _, s := range res.Steps {
		if strings.HasPrefix(s.Instruction, "COPY") && s.Layer != nil {
			copied = "blobs/sha256/" + s.Layer.Digest.Encoded()
		}
	}
	if copied == "" {
		t.Fatalf("no COPY layer among %+v", res.Steps)
	}

	// The RUN edited: the COPY hits, the RUN runs a while.
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df("sleep 1")), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := watchDir(outDir, func(e os.DirEntry) bool {
		data, err := os.ReadFile(filepath.Join(outDir, e.Name()))
		return err == nil && e.Name() != "app.tar" && bytes.Contains(data, []byte(copied))
	})
	_, res = testBuild(t, dir, cacheDir, toOut, epoch)
	seen := stop()
	if !res.Steps[len(res.Steps)-2].Cached || res.Steps[len(res.Steps)-1].Cached {
		t.Fatalf("want the COPY cached and the RUN run: %+v", res.Steps)
	}
	if !seen {
		t.Error("the cached COPY's layer was not in the archive begun while the RUN ran")
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cold, _ := testBuild(t, dir, t.TempDir(), epoch)
	want, err := os.ReadFile(cold)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the archive begun with the cached layers differs from a cold build's")
	}
}

// An output inside the build context is not begun ahead: a COPY . after
// the first miss would read the file being written.
func TestArchiveInContextNotBegunAhead(t *testing.T) {
	baseDir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude}))
	base, _ := testBuild(t, baseDir, t.TempDir())
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM oci-archive:" + base + "\nRUN true\nCOPY . /src\n", "a": "a\n"})
	out := filepath.Join(dir, "app.tar")
	testBuild(t, dir, t.TempDir(), func(o *Options) { o.Outputs = []transport.Ref{{Transport: transport.OCIArchive, Path: out}} })
	fsys, err := imagetest.Flatten(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range fsys.Paths() {
		if strings.Contains(p, "app.tar") {
			t.Errorf("the image holds %s, written while the COPY read the context", p)
		}
	}
}
