package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Main()
	rootfs.SetRefuseRealRoot()
	// Signal tests re-execute this binary as the mybuild CLI.
	if os.Getenv("MYBUILD_TEST_CLI") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// project writes a context with busybox and a Dockerfile.
func project(t *testing.T, dockerfile string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(imagetest.Busybox(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "busybox"), data, 0o755)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644)
	return dir
}

const prelude = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"

func TestBuildSucceeds(t *testing.T) {
	dir := project(t, prelude+"RUN echo built > /out\nCMD [\"cat\", \"/out\"]\n")
	cacheDir := t.TempDir()
	out := filepath.Join(t.TempDir(), "app.tar")
	meta := filepath.Join(t.TempDir(), "meta.json")
	// Flags after the context work too, as with docker build.
	code, stdout, stderr := runCLI(t, "--cache-dir", cacheDir, dir, "-t", out, "--metadata-file", meta)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "sha256:") {
		t.Errorf("stdout = %q, want the image digest", stdout)
	}
	for _, want := range []string{"#4 [4/5] RUN echo built > /out", "#4 DONE", "wrote oci-archive:" + out} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	var m metadata
	data, _ := os.ReadFile(meta)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if string(m.ImageDigest) != strings.TrimSpace(stdout) || len(m.Steps) != 5 || m.Steps[3].Line != 4 || m.Steps[3].LayerDigest == nil ||
		m.Steps[3].CacheSource != nil || m.Steps[0].CacheSource == nil || *m.Steps[0].CacheSource != "local" {
		t.Errorf("metadata: %s", data)
	}

	// The rebuild marks every step CACHED.
	code, _, stderr = runCLI(t, "--cache-dir", cacheDir, "-t", out, dir)
	if code != 0 || strings.Count(stderr, "CACHED") != 5 {
		t.Errorf("rebuild: exit %d\n%s", code, stderr)
	}
}

func TestStepOutputIsPrefixed(t *testing.T) {
	dir := project(t, prelude+"RUN echo line1; echo line2 >&2\n")
	code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), dir)
	if code != 0 || !strings.Contains(stderr, "#4 line1\n") || !strings.Contains(stderr, "#4 line2\n") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// A last line without "\n" shows up too, before the step's end, for a
// step that succeeds and for one that fails.
func TestStepOutputEndsWithItsLastLine(t *testing.T) {
	for _, tc := range []struct{ run, end string }{
		{`printf 'first\nno newline at end'`, "#4 DONE"},
		{`printf 'first\nno newline at end'; exit 3`, "#4 ERROR"},
	} {
		dir := project(t, prelude+"RUN "+tc.run+"\n")
		_, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), dir)
		if want := "#4 first\n#4 no newline at end\n" + tc.end; !strings.Contains(stderr, want) {
			t.Errorf("%s: progress lacks %q:\n%s", tc.run, want, stderr)
		}
	}
}

func TestFailedBuildExitsOne(t *testing.T) {
	dir := project(t, prelude+"RUN exit 7\n")
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), dir)
	want := "mybuild: Dockerfile:4: [4/4] RUN exit 7: process \"/bin/sh -c exit 7\" did not complete successfully: exit code 7\n"
	if code != 1 || stdout != "" || !strings.HasSuffix(stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant suffix %q", code, stdout, stderr, want)
	}
}

func TestBadDockerfileExitsOne(t *testing.T) {
	dir := project(t, "FROM scratch\nCOPY onlyone\n")
	code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), dir)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "mybuild: Dockerfile:2: ") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--help"}, 0, "Usage:\n  mybuild [flags] [CONTEXT]\n  mybuild COMMAND\n"},
		{[]string{"--version"}, 0, "mybuild "},
		{[]string{"--bogus"}, 2, "mybuild: unknown flag: --bogus\nRun 'mybuild build --help' for usage.\n"},
		{[]string{"a", "b"}, 2, "too many arguments"},
		{[]string{"--network", "bridge", "."}, 2, `--network: unknown network mode "bridge"`},
		{[]string{"-t", "docker://Bad/Name", "."}, 2, "-t docker://Bad/Name: "},
		{[]string{"-t", "docker-archive:x.tar:Bad:Tag", "."}, 2, "-t docker-archive:x.tar:Bad:Tag: "},
		{[]string{"--pull=sometimes", "."}, 2, "--pull: "},
		{[]string{"--platform", "linux", "."}, 2, "--platform: "},
		{[]string{"--allow", "device", "."}, 2, `--allow: unknown entitlement "device"`},
		{[]string{"cache"}, 2, "cache: missing command"},
		{[]string{"cache", "prune", "--keep-storage", "lots"}, 2, "--keep-storage"},
		{[]string{"cache", "prune", "--filter", "label=x"}, 2, "only until=DURATION"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.out) {
			t.Errorf("%v: exit %d, output %q; want exit %d and %q", tc.args, code, stdout+stderr, tc.code, tc.out)
		}
	}
}

// --allow security.insecure lets an insecure step run; without it the
// build fails before any step, with one line that names the flag.
func TestAllowInsecure(t *testing.T) {
	dir := project(t, prelude+"RUN --security=insecure mkdir /mnt && mount -t tmpfs tmpfs /mnt\n")
	code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), dir)
	want := "mybuild: Dockerfile:4: [4/4] RUN --security=insecure mkdir /mnt && mount -t tmpfs tmpfs /mnt: --security=insecure needs the security.insecure entitlement: run mybuild with --allow security.insecure\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
	code, _, stderr = runCLI(t, "--cache-dir", t.TempDir(), "--allow", "network.host,security.insecure", dir)
	if code != 0 {
		t.Errorf("with --allow: exit %d\n%s", code, stderr)
	}
}

func TestCacheCommands(t *testing.T) {
	dir := project(t, prelude+"RUN echo x > /x\n")
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, dir); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, _ := runCLI(t, "cache", "ls", "--cache-dir", cacheDir)
	if code != 0 || !strings.Contains(stdout, "RUN /bin/sh -c echo x > /x") || !strings.Contains(stdout, "LAST USED") {
		t.Errorf("cache ls: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "cache", "du", "--cache-dir", cacheDir)
	if code != 0 || !strings.Contains(stdout, "step records:") || !strings.Contains(stdout, "total:") {
		t.Errorf("cache du: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "cache", "prune", "--all", "--cache-dir", cacheDir)
	if code != 0 || !strings.Contains(stdout, "removed 3 steps") {
		t.Errorf("cache prune --all: exit %d\n%s", code, stdout)
	}
	_, stdout, _ = runCLI(t, "cache", "ls", "--cache-dir", cacheDir)
	if strings.Count(stdout, "\n") != 1 {
		t.Errorf("after prune --all, cache ls:\n%s", stdout)
	}
}

func TestFromEnvironment(t *testing.T) {
	t.Setenv("SET", "from env")
	os.Unsetenv("UNSET_HERE")
	got, err := fromEnvironment("-e", []string{"A=1", "SET", "UNSET_HERE", "B=", "C=x=y"})
	if want := []string{"A=1", "SET=from env", "B=", "C=x=y"}; err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if _, err := fromEnvironment("--build-arg", []string{"=v"}); err == nil || err.Error() != `--build-arg "=v": missing name` {
		t.Errorf("no name: err = %v", err)
	}
}
