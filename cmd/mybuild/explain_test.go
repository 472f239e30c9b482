package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateExplain = flag.Bool("update-explain", false, "rewrite testdata/explain/*.golden")

const explainDockerfile = prelude + "ARG VERSION\nCOPY src /src\nRUN cat /src/a.txt > /out\nCMD [\"cat\", \"/out\"]\n"

// explainProject is a context with src/a.txt and src/b.txt.
func explainProject(t *testing.T) string {
	t.Helper()
	dir := project(t, explainDockerfile)
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "src/a.txt"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "src/b.txt"), []byte("b\n"), 0o644)
	return dir
}

func TestMissInProgressAndMetadata(t *testing.T) {
	dir := explainProject(t)
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "src/a.txt"), []byte("edited\n"), 0o644)
	meta := filepath.Join(t.TempDir(), "meta.json")
	code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "--metadata-file", meta, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// The miss has a line of its own, before the step's output and DONE.
	for _, want := range []string{"#5 [5/7] COPY src /src\n#5 MISS 1 file changed: src/a.txt\n#5 DONE",
		"#6 MISS parent step missed\n", "#7 MISS parent step missed\n", "#4 CACHED"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	var m struct {
		Steps []struct {
			Index int             `json:"index"`
			Miss  json.RawMessage `json:"miss"`
		} `json:"steps"`
	}
	data, _ := os.ReadFile(meta)
	if err := json.Unmarshal(data, &m); err != nil || len(m.Steps) != 7 {
		t.Fatalf("metadata: %v\n%s", err, data)
	}
	if m.Steps[3].Miss != nil {
		t.Errorf("a cached step has a miss: %s", m.Steps[3].Miss)
	}
	type miss struct {
		Reason  string   `json:"reason"`
		Changes []string `json:"changes"`
	}
	var copyMiss, runMiss miss
	json.Unmarshal(m.Steps[4].Miss, &copyMiss)
	json.Unmarshal(m.Steps[5].Miss, &runMiss)
	if copyMiss.Reason != "1 file changed: src/a.txt" || !slices.Equal(copyMiss.Changes, []string{"src/a.txt"}) {
		t.Errorf("COPY miss: %s", m.Steps[4].Miss)
	}
	if runMiss.Reason != "parent step missed" || !slices.Equal(runMiss.Changes, []string{"parent"}) {
		t.Errorf("RUN miss: %s", m.Steps[5].Miss)
	}
}

func TestCacheExplain(t *testing.T) {
	dir := explainProject(t)
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	explain := func(golden string, args ...string) string {
		t.Helper()
		before := storeFiles(t, cacheDir)
		code, stdout, stderr := runCLI(t, append([]string{"cache", "explain", "--cache-dir", cacheDir}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		checkGolden(t, filepath.Join("testdata", "explain", golden), stdout)
		if after := storeFiles(t, cacheDir); !slices.Equal(before, after) {
			t.Errorf("explain wrote to the cache:\nbefore %v\nafter  %v", before, after)
		}
		return stdout
	}
	explain("unchanged.golden", dir)
	const value = "value-never-shown"
	if out := explain("build-arg.golden", "--build-arg", "VERSION="+value, "-f", filepath.Join(dir, "Dockerfile"), dir); strings.Contains(out, value) {
		t.Errorf("explain shows a build arg's value:\n%s", out)
	}
	os.WriteFile(filepath.Join(dir, "src/a.txt"), []byte("edited\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "src/new.txt"), []byte("new\n"), 0o644)
	explain("edited.golden", dir)
	// What explain said is what the build does.
	code, _, stderr := runCLI(t, "--cache-dir", cacheDir, dir)
	if code != 0 || strings.Count(stderr, "CACHED") != 4 || !strings.Contains(stderr, "#5 MISS 1 file changed: src/a.txt; 1 added: src/new.txt\n") {
		t.Errorf("build after explain: exit %d\n%s", code, stderr)
	}
}

// storeFiles lists the records, blobs and unpacked layers of a cache dir.
func storeFiles(t *testing.T, cacheDir string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"steps", "blobs/sha256", "layers/sha256"} {
		entries, err := os.ReadDir(filepath.Join(cacheDir, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			out = append(out, d+"/"+e.Name())
		}
	}
	return out
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateExplain {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s: got\n%s\nwant\n%s", path, got, want)
	}
}

// --progress=rawjson gives the miss as a log line of its step.
func TestMissInRawJSON(t *testing.T) {
	dir := explainProject(t)
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "src/b.txt"), []byte("edited\n"), 0o644)
	code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "--progress=rawjson", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	events, _ := rawjsonEvents(t, stderr)
	names := map[string]string{} // vertex digest to name
	var logs []string
	for _, e := range events {
		for _, v := range e.Vertexes {
			names[string(v.Digest)] = v.Name
		}
		for _, l := range e.Logs {
			logs = append(logs, names[string(l.Vertex)]+": "+string(l.Data))
		}
	}
	want := []string{"[5/7] COPY src /src: MISS 1 file changed: src/b.txt\n",
		"[6/7] RUN cat /src/a.txt > /out: MISS parent step missed\n", `[7/7] CMD ["cat", "/out"]: MISS parent step missed` + "\n"}
	if !slices.Equal(logs, want) {
		t.Errorf("logs %q, want %q", logs, want)
	}
}
