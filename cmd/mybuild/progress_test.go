package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/registry"
	digest "github.com/opencontainers/go-digest"
)

// rawjsonEvents parses --progress=rawjson output: every line an event,
// but an error line at the end.
func rawjsonEvents(t *testing.T, stderr string) (events []jsonStatus, last string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	for i, line := range lines {
		var e jsonStatus
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			if i == len(lines)-1 {
				return events, line
			}
			t.Fatalf("line %d is not an event: %q", i+1, line)
		}
		events = append(events, e)
	}
	return events, ""
}

// --progress=rawjson prints BuildKit's SolveStatus, one event a line: a
// step starts, logs its output, and completes (cached or not, or with
// its error); warnings and outputs are events too.
func TestProgressRawJSON(t *testing.T) {
	dir := project(t, prelude+"RUN echo hello; printf 'no newline'\n")
	cacheDir := t.TempDir()
	code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "--progress=rawjson", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	events, last := rawjsonEvents(t, stderr)
	if last != "" {
		t.Fatalf("a line that is no event: %q", last)
	}
	const step = `[4/4] RUN echo hello; printf 'no newline'`
	var started, completed bool
	var logs []string
	var warning string
	for _, e := range events {
		for _, v := range e.Vertexes {
			if v.Name != step {
				continue
			}
			started = started || (v.Started != nil && v.Completed == nil)
			completed = completed || (v.Completed != nil && !v.Cached && v.Error == "" && started)
		}
		for _, l := range e.Logs {
			logs = append(logs, string(l.Data))
		}
		for _, w := range e.Warnings {
			warning = string(w.Short)
		}
	}
	if !started || !completed || strings.Join(logs, "|") != "hello\n|no newline" || !strings.HasPrefix(warning, "no output specified") {
		t.Errorf("started %v, completed %v, logs %q, warning %q:\n%s", started, completed, logs, warning, stderr)
	}

	// A rebuild: every step cached. A failure: its step has the error.
	_, _, stderr = runCLI(t, "--cache-dir", cacheDir, "--progress", "rawjson", dir)
	events, _ = rawjsonEvents(t, stderr)
	cached := 0
	for _, e := range events {
		for _, v := range e.Vertexes {
			if v.Completed != nil && v.Cached {
				cached++
			}
		}
	}
	if cached != 4 {
		t.Errorf("rebuild: %d steps completed cached, want 4:\n%s", cached, stderr)
	}
	failing := project(t, prelude+"RUN exit 3\n")
	code, _, stderr = runCLI(t, "--cache-dir", cacheDir, "--progress=rawjson", failing)
	events, last = rawjsonEvents(t, stderr)
	final := events[len(events)-1].Vertexes
	if code != 1 || len(final) != 1 || !strings.Contains(final[0].Error, "exit code 3") || !strings.HasPrefix(last, "mybuild: Dockerfile:4: ") {
		t.Errorf("failure: exit %d, last event %+v, last line %q", code, final, last)
	}
}

// isolationLine is the first line of a build on this machine.
const isolationLine = "#0 isolation: namespaces (root, and namespaces and mounts are allowed)\n"

// --progress=quiet is -q; tty and auto are plain when stderr is no
// terminal, as here (the live view is tested in tmux:
// progress_tty_test.go); without --progress, $BUILDKIT_PROGRESS picks, as
// in buildx.
func TestProgressModes(t *testing.T) {
	dir := project(t, prelude)
	cacheDir := t.TempDir()
	for _, tc := range []struct {
		env  string
		args []string
		want string // the start of stderr
	}{
		{"", []string{"--progress=quiet"}, ""},
		{"", []string{"--progress=tty"}, isolationLine + "#1 [1/3] FROM scratch\n"},
		{"", []string{"--progress", "auto"}, isolationLine + "#1 [1/3] FROM scratch\n"},
		{"rawjson", nil, `{"vertexes":[{"digest":"` + digest.FromString("isolation").String() + `","name":"[internal] isolation: namespaces`},
		{"rawjson", []string{"--progress=plain"}, isolationLine + "#1 [1/3] FROM scratch\n"},
	} {
		t.Setenv("BUILDKIT_PROGRESS", tc.env)
		code, stdout, stderr := runCLI(t, append(append([]string{"--cache-dir", cacheDir}, tc.args...), dir)...)
		if code != 0 || digestOf(stdout).Validate() != nil || !strings.HasPrefix(stderr, tc.want) || (tc.want == "" && stderr != "") {
			t.Errorf("BUILDKIT_PROGRESS=%s %v: exit %d, stdout %q, stderr:\n%s\nwant it to start with %q", tc.env, tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// A FROM that read its image (pulled it, or read its archive) took time
// and is not CACHED; the next build finds it in the cache.
func TestFromNotCachedWhenRead(t *testing.T) {
	dir := project(t, prelude)
	base := filepath.Join(t.TempDir(), "base.tar")
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "build", "--cache-dir", cacheDir, "-t", base, dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM oci-archive:"+base+"\nRUN true\n"), 0o644)
	cacheDir = t.TempDir()
	for i, want := range []string{`#1 DONE \d+\.\ds`, `#1 CACHED`} {
		code, _, stderr := runCLI(t, "build", "--progress=plain", "--cache-dir", cacheDir, dir)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(stderr) {
			t.Errorf("build %d: no line %s in\n%s", i+1, want, stderr)
		}
	}
}

// The long work between the steps shows in every mode, as a pull does:
// a base layer being unpacked, a layer converted to another compression,
// the archive being written, with the bytes done of the total.
func TestProgressOfUnpackingAndWriting(t *testing.T) {
	dir := project(t, prelude)
	base := filepath.Join(t.TempDir(), "base.tar")
	if code, _, stderr := runCLI(t, "build", "--cache-dir", t.TempDir(), "-t", base, dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM oci-archive:"+base+"\nRUN true\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out.tar")
	cacheDir := t.TempDir()
	code, stdout, stderr := runCLI(t, "build", "--progress=plain", "--cache-dir", cacheDir, "-t", out, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{`unpacking: [0-9a-f]{12} [0-9.]+[kM]B`, `writing oci-archive:` + regexp.QuoteMeta(out) + `: ` + digestOf(stdout).Encoded()[:12] + ` [0-9.]+[kM]B`} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(stderr) {
			t.Errorf("no line %s in\n%s", want, stderr)
		}
	}
	// The same image in zstd: its layers are converted.
	code, _, stderr = runCLI(t, "build", "--progress=plain", "--cache-dir", cacheDir, "--compression", "zstd", "-t", out, dir)
	if code != 0 || !regexp.MustCompile(`(?m)^compressing to zstd: [0-9a-f]{12} [0-9.]+k?B$`).MatchString(stderr) {
		t.Errorf("exit %d, no line compressing to zstd in\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "build", "--progress=rawjson", "--cache-dir", t.TempDir(), "-t", out, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	events, _ := rawjsonEvents(t, stderr)
	done := map[string]bool{}
	for _, e := range events {
		for _, s := range e.Statuses {
			for _, what := range []string{"unpacking ", "writing oci-archive:"} {
				if strings.HasPrefix(s.ID, what) && s.Total > 0 && s.Current == s.Total {
					done[what] = true
				}
			}
		}
	}
	if !done["unpacking "] || !done["writing oci-archive:"] {
		t.Errorf("rawjson: unpacking and writing done: %v", done)
	}
}

// Plain progress prints a blob under way each second, once it has taken
// a second, and a line when it is done.
func TestPlainBlobProgress(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b)
	d := digest.FromString("layer")
	p.Blob(registry.Progress{Ref: "unpacking", Digest: d, Done: 0, Total: 3 << 20})
	p.Blob(registry.Progress{Ref: "unpacking", Digest: d, Done: 1 << 20, Total: 3 << 20})
	time.Sleep(1100 * time.Millisecond)
	p.Blob(registry.Progress{Ref: "unpacking", Digest: d, Done: 2 << 20, Total: 3 << 20})
	p.Blob(registry.Progress{Ref: "unpacking", Digest: d, Done: 3 << 20, Total: 3 << 20})
	id := d.Encoded()[:12]
	if want := "unpacking: " + id + " 2.097MB / 3.146MB\nunpacking: " + id + " 3.146MB\n"; b.String() != want {
		t.Errorf("got\n%swant\n%s", b.String(), want)
	}
}
