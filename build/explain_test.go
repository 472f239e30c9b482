package build

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/cache"
	digest "github.com/opencontainers/go-digest"
)

const explainDockerfile = busyboxPrelude + `ARG VERSION
COPY src /src
RUN cat /src/a.txt > /out
`

// missOf is the miss of the step at index in the stage "" (1-based).
func missOf(t *testing.T, res *Result, index int) *Miss {
	t.Helper()
	for _, s := range res.Steps {
		if s.Index == index {
			return s.Miss
		}
	}
	t.Fatalf("no step %d", index)
	return nil
}

func TestMissNamesTheFilesThatChanged(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": explainDockerfile,
		"src/a.txt": "a1\n", "src/b.txt": "b\n", "src/sub/c.txt": "c\n"}))
	cacheDir := t.TempDir()
	_, res := testBuild(t, dir, cacheDir)
	if m := missOf(t, res, 5); m == nil || m.Reason != "no earlier record of this step" || m.Earlier != "" {
		t.Errorf("first build: COPY miss %+v, want no earlier record", m)
	}
	os.WriteFile(filepath.Join(dir, "src/a.txt"), []byte("a2\n"), 0o644)
	_, res = testBuild(t, dir, cacheDir)
	if got := cachedSteps(res); got != "CCCCRR" {
		t.Fatalf("steps %s, want the COPY and the RUN to run", got)
	}
	for i := 1; i <= 4; i++ {
		if m := missOf(t, res, i); m != nil {
			t.Errorf("step %d hit, yet has a miss: %+v", i, m)
		}
	}
	m := missOf(t, res, 5)
	if m == nil || m.Reason != "1 file changed: src/a.txt" || !slices.Equal(m.Changes, []string{"src/a.txt"}) || m.DecidedBy != "" {
		t.Errorf("COPY: miss %+v, want src/a.txt changed", m)
	}
	m = missOf(t, res, 6)
	if m == nil || m.Reason != "parent step missed" || m.DecidedBy != "[5/6] COPY src /src" {
		t.Errorf("RUN: miss %+v, want parent step missed, decided by the COPY", m)
	}
	os.WriteFile(filepath.Join(dir, "src/a.txt"), []byte("a3\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "src/new.txt"), []byte("n\n"), 0o644)
	os.Remove(filepath.Join(dir, "src/sub/c.txt"))
	_, res = testBuild(t, dir, cacheDir)
	want := "1 file changed: src/a.txt; 1 added: src/new.txt; 1 removed: src/sub/c.txt"
	if m := missOf(t, res, 5); m == nil || m.Reason != want {
		t.Errorf("COPY: miss %+v, want %q", m, want)
	}
}

func TestMissNamesTheBuildArgNotItsValue(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": explainDockerfile, "src/a.txt": "a\n"}))
	cacheDir := t.TempDir()
	const v1, v2 = "hunter2-first-value", "hunter2-second-value"
	withArg := func(v string) func(*Options) {
		return func(o *Options) { o.BuildArgs = map[string]string{"VERSION": v} }
	}
	testBuild(t, dir, cacheDir, withArg(v1))
	_, res := testBuild(t, dir, cacheDir, withArg(v2))
	// The ARG step keys on the value it gives, as its history text has
	// it: it misses, and the steps after it.
	if got := cachedSteps(res); got != "CCCRRR" {
		t.Fatalf("steps %s, want the ARG and the steps after it to run", got)
	}
	m := missOf(t, res, 4)
	if m == nil || m.Reason != "build arg VERSION changed" || !slices.Equal(m.Changes, []string{"build arg VERSION"}) {
		t.Errorf("ARG: miss %+v, want build arg VERSION changed", m)
	}
	run := missOf(t, res, 6)
	if want := "parent step missed; build arg VERSION changed"; run == nil || run.Reason != want || run.DecidedBy != "[4/6] ARG VERSION" {
		t.Errorf("RUN: miss %+v, want %q, decided by the ARG", run, want)
	}
	// No value in what a miss says; the records keep digests of values,
	// and the values only in their history text (created_by), which
	// BuildKit's format gives them ("ARG VERSION=...").
	for _, v := range []string{v1, v2} {
		for _, m := range []*Miss{m, run} {
			if m != nil && strings.Contains(m.Reason+strings.Join(m.Changes, " "), v) {
				t.Errorf("the miss shows a value: %+v", m)
			}
		}
		for _, rec := range recordsWithout(t, cacheDir) {
			if strings.Contains(rec, v) {
				t.Errorf("a record holds the value %q outside its history text: %s", v, rec)
			}
		}
	}
}

// recordsWithout lists the records of a store as JSON, each without its
// history text.
func recordsWithout(t *testing.T, cacheDir string) []string {
	t.Helper()
	store, err := cache.Open(t.Context(), cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	recs, err := store.Steps()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		r.CreatedBy = ""
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(data))
	}
	return out
}

func TestSecretsNeverReachRecords(t *testing.T) {
	const secret = "s3cr3t-never-stored"
	df := busyboxPrelude + "RUN --mount=type=secret,id=tok,env=TOK test \"$TOK\" = " + secret + "\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	cacheDir := t.TempDir()
	withSecret := func(o *Options) { o.Secrets = map[string][]byte{"tok": []byte(secret)} }
	testBuild(t, dir, cacheDir, withSecret)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(strings.Replace(df, "= "+secret, "= \"$TOK\"", 1)), 0o644)
	_, res := testBuild(t, dir, cacheDir, withSecret)
	if m := missOf(t, res, 4); m == nil || m.Reason != "instruction changed" {
		t.Errorf("RUN: miss %+v, want instruction changed", m)
	}
	// The first Dockerfile held the secret as text, so only the second
	// record is checked: the value and its digest appear nowhere in it.
	key := res.Steps[3].Key
	data, err := os.ReadFile(filepath.Join(cacheDir, "steps", key.Encoded()+".json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, digest.FromString(secret).Encoded()} {
		if strings.Contains(string(data), s) {
			t.Errorf("the record holds %q: %s", s, data)
		}
	}
}

func TestExplainBuildsNothing(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": explainDockerfile, "src/a.txt": "a\n"}))
	cacheDir := t.TempDir()
	testBuild(t, dir, cacheDir)
	explain := func(o *Options) { o.Explain, o.Outputs = true, nil }
	before := storeEntries(t, cacheDir)
	_, res := testBuild(t, dir, cacheDir, explain)
	if got := cachedSteps(res); got != "CCCCCC" {
		t.Errorf("unchanged: steps %s, want every one to hit", got)
	}
	os.WriteFile(filepath.Join(dir, "src/a.txt"), []byte("changed\n"), 0o644)
	_, res = testBuild(t, dir, cacheDir, explain)
	if got := cachedSteps(res); got != "CCCCRR" {
		t.Errorf("after an edit: steps %s, want the COPY and the RUN to miss", got)
	}
	if m := missOf(t, res, 5); m == nil || m.Reason != "1 file changed: src/a.txt" {
		t.Errorf("COPY: miss %+v", m)
	}
	if m := missOf(t, res, 6); m == nil || m.Reason != "parent step missed" || m.DecidedBy != "[5/6] COPY src /src" {
		t.Errorf("RUN: miss %+v", m)
	}
	if after := storeEntries(t, cacheDir); !slices.Equal(before, after) {
		t.Errorf("explain changed the store:\nbefore %v\nafter  %v", before, after)
	}
	// The build it explained gives the keys it said.
	_, built := testBuild(t, dir, cacheDir)
	for i := range built.Steps {
		if built.Steps[i].Key != res.Steps[i].Key {
			t.Errorf("step %d: explain keyed %s, the build %s", i+1, res.Steps[i].Key, built.Steps[i].Key)
		}
	}
}

// storeEntries lists the records, blobs and unpacked layers of a store.
func storeEntries(t *testing.T, cacheDir string) []string {
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

// A COPY --from a stage that missed says so, and which step of the stage
// decides it.
func TestMissOfCopyFromNamesTheStage(t *testing.T) {
	df := busyboxPrelude + `FROM scratch AS build
COPY src /src
FROM scratch
COPY --from=build /src /app
ENV A=1
`
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df, "src/a.txt": "a\n"}))
	cacheDir := t.TempDir()
	testBuild(t, dir, cacheDir)
	os.WriteFile(filepath.Join(dir, "src/a.txt"), []byte("b\n"), 0o644)
	for _, explain := range []bool{true, false} {
		_, res := testBuild(t, dir, cacheDir, func(o *Options) {
			if o.Explain = explain; explain {
				o.Outputs = nil
			}
		})
		var cp, env *Miss
		for _, s := range res.Steps {
			switch {
			case s.Stage == "build" && s.Index == 2:
				if s.Miss == nil || s.Miss.Reason != "1 file changed: src/a.txt" {
					t.Errorf("explain=%v: build's COPY: miss %+v", explain, s.Miss)
				}
			case s.Stage == "stage-2" && s.Index == 2:
				cp = s.Miss
			case s.Stage == "stage-2" && s.Index == 3:
				env = s.Miss
			}
		}
		if cp == nil || cp.Reason != "stage build changed" || cp.DecidedBy != "[build 2/2] COPY src /src" {
			t.Errorf("explain=%v: COPY --from: miss %+v", explain, cp)
		}
		if env == nil || env.Reason != "parent step missed" || env.DecidedBy != "[stage-2 2/3] COPY --from=build /src /app" {
			t.Errorf("explain=%v: ENV: miss %+v", explain, env)
		}
	}
}
