package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// A build asks, as it starts, the tags the last build of the same
// Dockerfile asked: one whose Dockerfile no longer names the base still
// sends that HEAD, and the build after it none. --pull=never asks
// nothing.
func TestPrefetchedBases(t *testing.T) {
	var heads atomic.Int32
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") {
			heads.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/base:1"
	cacheDir := t.TempDir()
	build := func(what string, args ...string) {
		t.Helper()
		if code, _, stderr := runCLI(t, append([]string{"--cache-dir", cacheDir}, args...)...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", what, code, stderr)
		}
	}
	build("push", "-t", "docker://"+ref, project(t, prelude))
	dir := project(t, "FROM "+ref+"\nRUN echo x > /x\n")
	setBase := func(from string) {
		t.Helper()
		df := "FROM " + from + "\n"
		if from == "scratch" {
			df += "COPY busybox /bin/busybox\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build("the first build", dir)
	build("a build that asks with one HEAD", dir) // and keeps its URL

	setBase("scratch")
	heads.Store(0)
	build("a build that names no base", dir)
	for deadline := time.Now().Add(5 * time.Second); heads.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := heads.Load(); n != 1 {
		t.Errorf("%d HEADs for the build that names no base, want the one asked ahead", n)
	}
	heads.Store(0)
	build("the next one", dir)
	if n := heads.Load(); n != 0 {
		t.Errorf("%d HEADs for the next build, want none", n)
	}

	setBase(ref)
	build("a build that asks again", dir)
	setBase("scratch")
	heads.Store(0)
	build("--pull=never", "--pull", "never", dir)
	time.Sleep(100 * time.Millisecond) // what a prefetch would have sent by now
	if n := heads.Load(); n != 0 {
		t.Errorf("%d HEADs with --pull=never, want none", n)
	}
}
