package main

import (
	"debug/buildinfo"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePeers(t *testing.T) {
	for _, c := range []struct {
		list, want, err string
	}{
		{"", "", ""},
		{"buildkit", "buildkit", ""},
		{"buildah,buildkit", "buildah buildkit", ""},
		{"docker", "", `-peers: unknown peer "docker" (want buildkit, buildah)`},
		{"buildkit,", "", `-peers: unknown peer "" (want buildkit, buildah)`},
		{"buildkit,buildkit", "", "-peers: buildkit named twice"},
	} {
		got, err := parsePeers(c.list)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.list, err, c.err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%q: %q, %v; want %q", c.list, got, err, c.want)
		}
	}
}

func TestBuildKitArgs(t *testing.T) {
	got := buildctlBuildArgs("unix:///w/bk.sock", "/w/steps", "/w/steps.tar")
	want := []string{"--addr", "unix:///w/bk.sock", "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context=/w/steps", "--local", "dockerfile=/w/steps", "--output", "type=oci,dest=/w/steps.tar"}
	if !slices.Equal(got, want) {
		t.Errorf("buildctl build:\n got %q\nwant %q", got, want)
	}
	got = buildkitdArgs("/w/root", "unix:///w/bk.sock", "/w/buildkitd.toml")
	want = []string{"--config", "/w/buildkitd.toml", "--root", "/w/root", "--addr", "unix:///w/bk.sock",
		"--oci-worker=true", "--containerd-worker=false", "--oci-worker-snapshotter=overlayfs", "--oci-worker-net=host"}
	if !slices.Equal(got, want) {
		t.Errorf("buildkitd:\n got %q\nwant %q", got, want)
	}
	if got, want := buildkitConfig("127.0.0.1:40123"), "[registry.\"127.0.0.1:40123\"]\n  http = true\n"; got != want {
		t.Errorf("buildkitd.toml %q, want %q", got, want)
	}
}

func TestBuildahArgs(t *testing.T) {
	s := buildahStore{root: "/w/root", runroot: "/w/run"}
	store := []string{"--root", "/w/root", "--runroot", "/w/run", "--storage-driver", "overlay"}
	want := append(slices.Clone(store), "bud", "--layers", "--format", "oci", "--tls-verify=false",
		"-f", "/w/steps/Dockerfile", "-t", "bench-steps", "/w/steps")
	if got := s.budArgs("steps", "/w/steps"); !slices.Equal(got, want) {
		t.Errorf("bud:\n got %q\nwant %q", got, want)
	}
	want = append(slices.Clone(store), "push", "bench-steps", "oci-archive:/w/steps.tar")
	if got := s.pushArgs("steps", "/w/steps.tar"); !slices.Equal(got, want) {
		t.Errorf("push:\n got %q\nwant %q", got, want)
	}
	if got := buildahVersion("buildah version 1.28.2 (image-spec 1.1.0-rc2, runtime-spec 1.0.2-dev)\n"); got != "1.28.2" {
		t.Errorf("version %q, want 1.28.2", got)
	}
	if got := buildahVersion("something else\n"); got != "" {
		t.Errorf("version of an unknown text %q, want none", got)
	}
}

func TestMybuildArgs(t *testing.T) {
	got := mybuildArgs("127.0.0.1:40123", "/w/c", "/w/o.tar", "/w/ctx")
	want := []string{"--insecure-registry", "127.0.0.1:40123", "--cache-dir", "/w/c", "-t", "/w/o.tar", "/w/ctx"}
	if !slices.Equal(got, want) {
		t.Errorf("with a registry:\n got %q\nwant %q", got, want)
	}
	got = mybuildArgs("", "/w/c", "/w/o.tar", "/w/ctx")
	if want := want[2:]; !slices.Equal(got, want) {
		t.Errorf("without:\n got %q\nwant %q", got, want)
	}
}

// BuildKit's commands built in a throwaway module carry its version as
// the main module's or a dependency's.
func TestModuleVersion(t *testing.T) {
	main := &buildinfo.BuildInfo{Main: debug.Module{Path: buildkitModule, Version: "v0.34.2"}}
	dep := &buildinfo.BuildInfo{Main: debug.Module{Path: "bk", Version: "(devel)"},
		Deps: []*debug.Module{{Path: "golang.org/x/sys", Version: "v0.30.0"}, {Path: buildkitModule, Version: "v0.34.1"}}}
	devel := &buildinfo.BuildInfo{Main: debug.Module{Path: buildkitModule, Version: "(devel)"}}
	for _, c := range []struct {
		info *buildinfo.BuildInfo
		want string
	}{{main, "v0.34.2"}, {dep, "v0.34.1"}, {devel, ""}} {
		if got := moduleVersion(c.info, buildkitModule); got != c.want {
			t.Errorf("%+v: %q, want %q", c.info.Main, got, c.want)
		}
	}
}

// Each tool takes its turn in every run, in order in even runs and in
// reverse in odd ones (see order); each cold build follows that tool's
// reset and a page cache holding the inputs alone, each edited run
// follows its edit; and the results name the tools, mybuild's targets
// on mybuild alone.
func TestPhasesOrder(t *testing.T) {
	var calls []string
	fake := func(name string, ms int) tool {
		return tool{name: name, version: "v1",
			reset: func(w string) error { calls = append(calls, "reset "+name); return nil },
			build: func(w, ctx string) (sample, error) {
				calls = append(calls, name)
				return sample{wall: time.Duration(ms) * time.Millisecond}, nil
			}}
	}
	b := &bench{runs: 2, peers: []tool{fake("mybuild", 10), fake("buildkit", 40)}, work: t.TempDir(),
		freshMemory: func(inputs ...string) error { calls = append(calls, "fresh "+strings.Join(inputs, " ")); return nil }}
	edit := func(i int) error { calls = append(calls, fmt.Sprint("edit ", i)); return nil }
	rs, err := b.phases("steps", "/ctx", edit, [3]string{"≤ 1 s", "≤ 0.1 s", ""})
	if err != nil {
		t.Fatal(err)
	}
	want := "reset mybuild,fresh /ctx,mybuild,reset buildkit,fresh /ctx,buildkit," +
		"reset buildkit,fresh /ctx,buildkit,reset mybuild,fresh /ctx,mybuild," +
		"mybuild,buildkit,buildkit,mybuild," +
		"edit 0,mybuild,buildkit,edit 1,buildkit,mybuild"
	if got := strings.Join(calls, ","); got != want {
		t.Errorf("calls\n got %s\nwant %s", got, want)
	}
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s %s %s %.0f %s", r.Tool, r.Version, r.Phase, r.MedianMS, r.Target))
	}
	wantRs := []string{"mybuild v1 cold 10 ≤ 1 s", "mybuild v1 warm 10 ≤ 0.1 s", "mybuild v1 edit 10 ",
		"buildkit v1 cold 40 ", "buildkit v1 warm 40 ", "buildkit v1 edit 40 "}
	if !slices.Equal(got, wantRs) {
		t.Errorf("results\n got %q\nwant %q", got, wantRs)
	}
}

// Without -peers, mybuild alone is measured as before: no tool named in
// the results, no registry flag, a fresh cache dir for each cold build.
func TestPhasesWithoutPeers(t *testing.T) {
	work := t.TempDir()
	var builds []string
	m := mode{name: "namespaces", dir: work, prepare: func(string) error { return nil },
		build: func(args ...string) (sample, error) {
			builds = append(builds, strings.Join(args, " "))
			return sample{wall: time.Second}, nil
		}}
	b := &bench{work: work, runs: 1, modes: []mode{m}}
	rs, err := b.phases("steps", "/ctx", func(int) error { return nil }, [3]string{"≤ 1 s", "≤ 0.1 s", ""})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("--cache-dir %s/steps-cache -t %s/steps.tar /ctx", work, work)
	if len(builds) != 3 || builds[0] != want || builds[2] != want {
		t.Errorf("builds %q, want three of %q", builds, want)
	}
	if len(rs) != 3 {
		t.Fatalf("%d results, want 3", len(rs))
	}
	for _, r := range rs {
		if r.Tool != "" || r.Version != "" || r.Mode != "" {
			t.Errorf("%s: tool %q version %q mode %q, want none", r.Phase, r.Tool, r.Version, r.Mode)
		}
	}
	if !strings.HasPrefix(markdown(rs), "| Workload | Phase | Median | Min | Max | Peak RSS | Target |\n") {
		t.Errorf("not the plain table:\n%s", markdown(rs))
	}
}
