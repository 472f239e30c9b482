package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/transport"
	digest "github.com/opencontainers/go-digest"
)

const cacheDockerfile = busyboxPrelude + `COPY app.txt /app/app.txt
RUN cat /app/app.txt > /app/copy.txt
ENV MODE=test
RUN echo "$MODE" > /app/mode.txt
`

func cachedSteps(res *Result) string {
	var s []string
	for _, st := range res.Steps {
		if st.Cached {
			s = append(s, "C")
		} else {
			s = append(s, "R")
		}
	}
	return strings.Join(s, "")
}

func TestRebuildHitsAndGivesTheSameImage(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
	cacheDir := t.TempDir()
	first, res1 := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res1); got != "CRRRRRR" {
		t.Errorf("first build: steps %s, want only FROM cached", got)
	}
	second, res2 := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res2); got != "CCCCCCC" {
		t.Errorf("rebuild: steps %s, want all cached", got)
	}
	if res1.ImageDigest != res2.ImageDigest {
		t.Errorf("rebuild gave %s, want %s", res2.ImageDigest, res1.ImageDigest)
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if !bytes.Equal(a, b) {
		t.Error("the archives differ")
	}
	for i := range res1.Steps {
		if res1.Steps[i].Key != res2.Steps[i].Key {
			t.Errorf("step %d: key changed", i+1)
		}
	}
}

// BuildKit ships the old content here (moby/buildkit#4950).
func TestSameSizeSameMtimeChangeMisses(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
	app := filepath.Join(dir, "app.txt")
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	os.Chtimes(app, old, old)
	cacheDir := t.TempDir()
	testBuild(t, dir, cacheDir)
	// Let the stat cache trust the first version, then change it in place:
	// same size, mtime put back.
	time.Sleep(2100 * time.Millisecond)
	testBuild(t, dir, cacheDir)
	if err := os.WriteFile(app, []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(app, old, old)
	out, res := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res); got != "CCCRRRR" {
		t.Errorf("steps %s, want the COPY and every step after it to run", got)
	}
	if line := lineOf(t, out, "/app/copy.txt"); !strings.Contains(line, digest.FromString("v2\n").Encoded()) {
		t.Errorf("the image has stale content: %s", line)
	}
}

func TestMtimeOnlyChangeHits(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
	cacheDir := t.TempDir()
	_, res1 := testBuild(t, dir, cacheDir)
	now := time.Now().Add(time.Minute)
	for _, f := range []string{"app.txt", "busybox", "Dockerfile"} {
		os.Chtimes(filepath.Join(dir, f), now, now)
	}
	_, res2 := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res2); got != "CCCCCCC" {
		t.Errorf("after touch: steps %s, want all cached", got)
	}
	if res1.ImageDigest != res2.ImageDigest {
		t.Error("a touch changed the image")
	}
}

func TestEnvChangeMissesFollowingRuns(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
	cacheDir := t.TempDir()
	testBuild(t, dir, cacheDir)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(strings.Replace(cacheDockerfile, "MODE=test", "MODE=prod", 1)), 0o644)
	out, res := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res); got != "CCCCCRR" {
		t.Errorf("steps %s, want ENV and the RUN after it to run", got)
	}
	if line := lineOf(t, out, "/app/mode.txt"); !strings.Contains(line, digest.FromString("prod\n").Encoded()) {
		t.Errorf("mode.txt: %s", line)
	}
}

func TestNoCacheRunsEverythingAndStoresIt(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
	cacheDir := t.TempDir()
	testBuild(t, dir, cacheDir)
	_, res := testBuild(t, dir, cacheDir, func(o *Options) { o.NoCache = true })
	if got := cachedSteps(res); got != "CRRRRRR" {
		t.Errorf("--no-cache: steps %s, want every step but FROM to run", got)
	}
	_, res2 := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res2); got != "CCCCCCC" || res2.ImageDigest != res.ImageDigest {
		t.Errorf("after --no-cache: steps %s (%s), want all cached, same image as the --no-cache build", got, res2.ImageDigest)
	}
}

func TestFailedStepIsNotCached(t *testing.T) {
	df := busyboxPrelude + "RUN echo partial > /partial && exit 3\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	cacheDir := t.TempDir()
	for i := 0; i < 2; i++ {
		_, _, err := tryBuild(t, dir, cacheDir)
		want := `Dockerfile:4: [4/4] RUN echo partial > /partial && exit 3: process "/bin/sh -c echo partial > /partial && exit 3" did not complete successfully: exit code 3`
		if err == nil || err.Error() != want {
			t.Fatalf("build %d: err = %v\nwant %s", i+1, err, want)
		}
	}
	assertNoScratchLeft(t, cacheDir)
}

// A blob damaged in the cache is found when the image is written, dropped,
// and the step that made it runs again: the image never ships it.
func TestCorruptBlobIsRebuilt(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
	cacheDir := t.TempDir()
	_, res := testBuild(t, dir, cacheDir)
	layer := res.Steps[4].Layer // RUN cat ...
	blob := filepath.Join(cacheDir, "blobs/sha256", layer.Digest.Encoded())
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	os.WriteFile(blob, data, 0o600)

	out, res2 := testBuild(t, dir, cacheDir)
	if got := cachedSteps(res2); !strings.HasPrefix(got, "CCCCR") {
		t.Errorf("steps %s, want the damaged step to run again", got)
	}
	assertArchiveBlobsValid(t, out)
	if line := lineOf(t, out, "/app/copy.txt"); !strings.Contains(line, digest.FromString("v1\n").Encoded()) {
		t.Errorf("copy.txt: %s", line)
	}
}

// assertArchiveBlobsValid checks every blob of an OCI archive against its
// name.
func assertArchiveBlobsValid(t *testing.T, archive string) {
	t.Helper()
	dir := t.TempDir()
	if err := extractTar(archive, dir); err != nil {
		t.Fatal(err)
	}
	blobs, _ := os.ReadDir(filepath.Join(dir, "blobs/sha256"))
	for _, b := range blobs {
		data, _ := os.ReadFile(filepath.Join(dir, "blobs/sha256", b.Name()))
		if got := digest.FromBytes(data).Encoded(); got != b.Name() {
			t.Errorf("blob %s has digest %s", b.Name(), got)
		}
	}
}

func TestConcurrentBuildsShareTheCache(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
	cacheDir := t.TempDir()
	var wg sync.WaitGroup
	results := make([]*Result, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i], errs[i] = tryBuild(t, dir, cacheDir)
		}()
	}
	wg.Wait()
	ran := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("build %d: %v", i, err)
		}
		if results[i].ImageDigest != results[0].ImageDigest {
			t.Errorf("build %d gave %s, build 0 %s", i, results[i].ImageDigest, results[0].ImageDigest)
		}
		ran += strings.Count(cachedSteps(results[i]), "R")
	}
	// Each step ran in exactly one build; the others waited and reused it.
	if ran != 6 {
		t.Errorf("%d step runs over 4 builds, want 6 (each step once)", ran)
	}
	assertNoScratchLeft(t, cacheDir)
}

func TestCancelLeavesNothingBehind(t *testing.T) {
	df := busyboxPrelude + "RUN sleep 1000\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	cacheDir := t.TempDir()
	store, err := cache.Open(context.Background(), cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rep := &startWatcher{started: make(chan int, 10)}
	done := make(chan error, 1)
	go func() {
		_, err := Build(ctx, Options{Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir, Store: store, Reporter: rep})
		done <- err
	}()
	for i := range rep.started {
		if i == 4 {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // let the sleep start
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("build did not stop")
	}
	store.Close()
	assertNoScratchLeft(t, cacheDir)
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), cacheDir) {
		t.Errorf("a mount under the cache remains:\n%s", mounts)
	}
}

type startWatcher struct {
	discardReporter
	started chan int
}

func (w *startWatcher) StepStarted(info StepInfo) { w.started <- info.Index }

func assertNoScratchLeft(t *testing.T, cacheDir string) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(cacheDir, "tmp"))
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("scratch left in the cache: %s", fmt.Sprint(names))
	}
}

// A build arg keys the steps that can see it, and only those: a changed
// value misses from the first step in its scope, an arg no step declares
// (or a proxy arg, as in BuildKit) hits everywhere.
func TestBuildArgChanges(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + `RUN echo before > /before
ARG VERSION=1
RUN echo "$VERSION" > /version
RUN echo after > /after
`}))
	cacheDir := t.TempDir()
	args := func(kv ...string) func(*Options) {
		return func(o *Options) {
			o.BuildArgs = map[string]string{}
			for i := 0; i < len(kv); i += 2 {
				o.BuildArgs[kv[i]] = kv[i+1]
			}
		}
	}
	_, first := testBuild(t, dir, cacheDir, args("VERSION", "1"))
	for _, tc := range []struct {
		name string
		opts func(*Options)
		want string
	}{
		{"same value", args("VERSION", "1"), "CCCCCCC"},
		{"the default", args(), "CCCCCCC"},
		{"new value", args("VERSION", "2"), "CCCCRRR"}, // from the ARG on
		{"undeclared arg", args("VERSION", "1", "OTHER", "x"), "CCCCCCC"},
		{"proxy arg", args("VERSION", "1", "HTTP_PROXY", "http://127.0.0.1:3128"), "CCCCCCC"},
	} {
		out, res := testBuild(t, dir, cacheDir, tc.opts)
		if got := cachedSteps(res); got != tc.want {
			t.Errorf("%s: steps %s, want %s", tc.name, got, tc.want)
		}
		want := "1\n"
		if tc.name == "new value" {
			want = "2\n"
		} else if res.ImageDigest != first.ImageDigest {
			t.Errorf("%s: image %s, want %s", tc.name, res.ImageDigest, first.ImageDigest)
		}
		if line := lineOf(t, out, "/version"); !strings.Contains(line, fmt.Sprintf("sha256=%x", sha256.Sum256([]byte(want)))) {
			t.Errorf("%s: /version is %s", tc.name, line)
		}
	}
}

// A damaged blob found while its layer is decompressed (to be converted
// to another compression, or written uncompressed into a docker-archive)
// is dropped and its step runs again, as when the image is written.
func TestCorruptBlobIsRebuiltWhenDecompressed(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(*Options)
	}{
		{"zstd", withCompression(layer.Zstd, 0)},
		{"docker-archive", func(o *Options) {
			o.Outputs = []transport.Ref{{Transport: transport.DockerArchive, Path: filepath.Join(t.TempDir(), "d.tar")}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
			cacheDir := t.TempDir()
			_, res := testBuild(t, dir, cacheDir)
			blob := filepath.Join(cacheDir, "blobs/sha256", res.Steps[4].Layer.Digest.Encoded())
			data, err := os.ReadFile(blob)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff
			os.WriteFile(blob, data, 0o600)

			_, res2 := testBuild(t, dir, cacheDir, tc.opts)
			if got := cachedSteps(res2); !strings.HasPrefix(got, "CCCCR") {
				t.Errorf("steps %s, want the damaged step to run again", got)
			}
		})
	}
}
