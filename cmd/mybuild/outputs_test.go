package main

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tarNames lists the entry names of a tar file.
func tarNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
}

// --format docker makes a plain -t PATH a docker-archive, which docker
// load reads: manifest.json names the config and the layer files.
func TestFormatDocker(t *testing.T) {
	dir := project(t, prelude+"RUN echo hi > /hi\n")
	out := filepath.Join(t.TempDir(), "app.tar")
	code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--format", "docker", "-t", out, dir)
	if code != 0 || !strings.Contains(stderr, "wrote docker-archive:"+out) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	names := tarNames(t, out)
	if !names["manifest.json"] {
		t.Fatalf("no manifest.json in %v", names)
	}
	f, _ := os.Open(out)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct {
			Config string
			Layers []string
		}
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || len(m[0].Layers) != 3 || !names[m[0].Config] {
			t.Fatalf("manifest.json: %+v", m)
		}
		for _, l := range m[0].Layers {
			if !names[l] {
				t.Errorf("manifest.json names layer %s, which the archive lacks", l)
			}
		}
		return
	}
}

func TestOutputFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		out  string
	}{
		{[]string{"--format", "tar", "."}, "mybuild: --format tar: unknown format (want oci or docker)\n"},
		{[]string{"--compression", "lz4", "."}, "mybuild: --compression: unknown compression \"lz4\" (want gzip, zstd or none)\n"},
		{[]string{"--compression", "gzip", "--compression-level", "12", "."}, "mybuild: --compression: compression level 12 is out of range for gzip (1 to 9)\n"},
		{[]string{"--source-date-epoch", "noon", "."}, "mybuild: --source-date-epoch: invalid SOURCE_DATE_EPOCH \"noon\": want whole seconds since 1970\n"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, tc.out) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.out)
		}
	}
}

// Under SOURCE_DATE_EPOCH, the same context built from two folders, with
// different file times and separate caches, gives the same digest and the
// same bytes; --source-date-epoch does the same.
func TestSourceDateEpochEnv(t *testing.T) {
	const dockerfile = prelude + "COPY app /app/\nRUN echo built > /app/built && mkdir /data\n"
	var digests, archives []string
	for i, mtime := range []time.Time{time.Now().Add(-time.Hour), time.Now().Add(-240 * time.Hour)} {
		dir := project(t, dockerfile)
		os.MkdirAll(filepath.Join(dir, "app"), 0o755)
		os.WriteFile(filepath.Join(dir, "app", "f"), []byte("f\n"), 0o644)
		for _, p := range []string{"app/f", "app", "busybox", "Dockerfile"} {
			os.Chtimes(filepath.Join(dir, p), mtime, mtime)
		}
		out := filepath.Join(t.TempDir(), "app.tar")
		args := []string{"--cache-dir", t.TempDir(), "-t", out, dir}
		if i == 0 {
			t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
		} else {
			os.Unsetenv("SOURCE_DATE_EPOCH")
			args = append([]string{"--source-date-epoch", "1700000000"}, args...)
		}
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		digests = append(digests, strings.TrimSpace(stdout))
		archives = append(archives, out)
		time.Sleep(1100 * time.Millisecond) // so that the files RUN makes get other times
	}
	if digests[0] != digests[1] {
		t.Errorf("digests differ: %v", digests)
	}
	a, _ := os.ReadFile(archives[0])
	b, _ := os.ReadFile(archives[1])
	if string(a) != string(b) {
		t.Error("the archives differ")
	}
}
