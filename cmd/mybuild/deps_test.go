package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// directDeps are the modules mybuild may require directly, and why. A new
// one must earn its place here, in review: each dependency is code to
// trust, to update and to ship.
var directDeps = map[string]string{
	"github.com/cilium/ebpf":                 "the cgroup v2 device program (sandbox/devcgroup)",
	"github.com/containerd/platforms":        "platforms parsed, normalized and matched as BuildKit does",
	"github.com/cyphar/filepath-securejoin":  "paths inside a root",
	"github.com/docker/go-units":             "sizes in flags and output, as docker prints them",
	"github.com/elastic/go-seccomp-bpf":      "seccomp BPF assembly and syscall tables, pure Go (sandbox/seccomp)",
	"github.com/google/go-containerregistry": "registries",
	"github.com/klauspost/compress":          "gzip and zstd",
	"github.com/moby/buildkit":               "the Dockerfile front end (parser, instructions, shell, linter)",
	"github.com/moby/docker-image-spec":      "the Docker image config type",
	"github.com/morikuni/aec":                "the escape codes of the live progress view, as BuildKit's progressui draws it",
	"github.com/moby/patternmatcher":         ".dockerignore",
	"github.com/moby/profiles/seccomp":       "Docker's default seccomp profile",
	"github.com/moby/sys/mountinfo":          "the container's mount points, which a build in place leaves alone (isolation)",
	"github.com/moby/sys/user":               "USER resolution, as runc and BuildKit do it; /etc/subuid",
	"github.com/opencontainers/go-digest":    "OCI digests",
	"github.com/opencontainers/image-spec":   "OCI types",
	"github.com/opencontainers/runtime-spec": "the seccomp profile's types",
	"github.com/spf13/cobra":                 "the command line, as docker, buildx, podman, buildah and kaniko parse theirs",
	"github.com/spf13/pflag":                 "double-dash flags for cobra, with the ecosystem's names and help",
	"github.com/ulikunitz/xz":                "ADD of xz archives",
	"golang.org/x/crypto":                    "the ssh agent of RUN --mount=type=ssh",
	"golang.org/x/net":                       "BPF instructions for the seccomp filter",
	"golang.org/x/sync":                      "errgroup and singleflight",
	"golang.org/x/sys":                       "syscalls",
	"golang.org/x/term":                      "whether stderr is a terminal, and its size, for the live progress view",
}

// TestDirectDependencies fails when go.mod requires a module directly that
// directDeps does not list, as go-containerregistry's depcheck guards its
// imports.
func TestDirectDependencies(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var direct []string
	inRequire := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inRequire = true
			continue
		case line == ")":
			inRequire = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inRequire:
			continue
		}
		if strings.Contains(line, "// indirect") || line == "" {
			continue
		}
		direct = append(direct, strings.Fields(line)[0])
	}
	if len(direct) == 0 {
		t.Fatal("no direct requirement found in go.mod")
	}
	for _, m := range direct {
		if _, ok := directDeps[m]; !ok {
			t.Errorf("go.mod requires %s directly, which is not on the list of allowed dependencies in deps_test.go", m)
		}
	}
	for m := range directDeps {
		if !slices.Contains(direct, m) {
			t.Errorf("%s is allowed but no longer required: drop it from the list", m)
		}
	}
}

// TestLayering keeps docs/architecture.md true: each package of its table
// imports only packages listed below it, and every package of the module
// (tests, internal/ and the benchmark driver aside) is in the table.
func TestLayering(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	// Rows look like: | `image`, `registry` | ... |
	rank := map[string]int{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for _, name := range strings.Split(cells[1], ",") {
			name = strings.Trim(strings.TrimSpace(name), "`")
			if name != "" && !strings.Contains(name, "...") {
				rank[name] = len(rank)
			}
		}
	}
	if len(rank) < 10 {
		t.Fatalf("found %d packages in the table of docs/architecture.md", len(rank))
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/mybuild/mybuild/"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		if strings.HasPrefix(pkg, "internal/") || pkg == "bench" || strings.HasSuffix(pkg, "test") {
			continue
		}
		r, ok := rank[pkg]
		if !ok {
			t.Errorf("package %s is not in the table of docs/architecture.md", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			dep, ok := strings.CutPrefix(imp, mod)
			if !ok || strings.HasPrefix(dep, "internal/") {
				continue
			}
			if d, listed := rank[dep]; listed && d <= r && dep != pkg {
				t.Errorf("%s imports %s, which docs/architecture.md lists above it", pkg, dep)
			}
		}
	}
}
