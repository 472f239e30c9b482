package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/rootfs"
)

// refuseInPlace fails the test before a build on this machine that could
// build in place, rewriting this machine's root: every build here names
// the namespaces mode, never in place or --force, with
// MYBUILD_REFUSE_IN_PLACE_ON_ROOT set (TestMain) as a second guard.
func refuseInPlace(t *testing.T, args []string) {
	t.Helper()
	if os.Getenv(rootfs.RefuseRealRootEnv) == "" {
		t.Fatalf("%s is not set: no build may run on this machine", rootfs.RefuseRealRootEnv)
	}
	named := false
	for _, a := range args {
		switch {
		case a == "--isolation=namespaces":
			named = true
		case strings.Contains(a, "isolation"), strings.Contains(a, "force"):
			t.Fatalf("refusing to build on this machine with %s: only --isolation=namespaces may run here", a)
		}
	}
	if !named {
		t.Fatalf("refusing to build on this machine without --isolation=namespaces: %q", args)
	}
}

// vmBuild builds the context ctx on this machine, in the normal mode
// (namespaces), with the fixture's binary and cache; args are more flags.
func (f *fixture) vmBuild(t *testing.T, ctx string, args ...string) string {
	t.Helper()
	args = append([]string{"build", "--isolation=namespaces", "--cache-dir", f.cache, "--progress=plain"}, args...)
	args = append(args, ctx)
	refuseInPlace(t, args)
	if _, err := os.Stat(filepath.Join(filepath.Dir(f.bin), "in-place")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an in-place marker is beside %s on this machine (%v): refusing to run it", f.bin, err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(f.bin, args...)
	cmd.Stderr = &stderr
	if _, err := cmd.Output(); err != nil {
		t.Fatalf("mybuild %s on this machine: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}

// result is what a run of mybuild's image printed, and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// container is how run runs an image.
type container struct {
	name    string
	image   string   // imageName unless set
	volumes []string // HOST:CONTAINER[:ro]
	// entrypoint, unless "", replaces the image's; noEntrypoint clears it.
	entrypoint   string
	noEntrypoint bool
	stdin        string
}

// run runs the container, with Docker's default security (no
// --privileged, no capability added, no security option, no device) and
// the host's network; args follow the entrypoint. The container is kept,
// for what it changed to be looked at.
func (f *fixture) run(t *testing.T, c container, args ...string) result {
	t.Helper()
	docker := []string{"run", "--name", c.name, "--network", "host", "--add-host", "e2e-marker:127.0.0.2"}
	for _, v := range c.volumes {
		docker = append(docker, "--volume", v)
	}
	switch {
	case c.noEntrypoint:
		docker = append(docker, "--entrypoint", "")
	case c.entrypoint != "":
		docker = append(docker, "--entrypoint", c.entrypoint)
	}
	if c.stdin != "" {
		docker = append(docker, "--interactive")
	}
	if c.image == "" {
		c.image = imageName
	}
	docker = append(append(docker, c.image), args...)
	var stdout, stderr bytes.Buffer
	cmd := f.engine.Command(docker...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(c.stdin), &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("docker %s: %v\n%s", strings.Join(docker, " "), err, stderr.String())
	}
	return r
}

// mustRun is run that fails the test unless the command exits 0.
func (f *fixture) mustRun(t *testing.T, c container, args ...string) result {
	t.Helper()
	r := f.run(t, c, args...)
	if r.code != 0 {
		t.Fatalf("%s in container %s: exit %d\n%s", strings.Join(args, " "), c.name, r.code, r.stderr)
	}
	return r
}

// containerHostFiles reads /etc/hosts, /etc/resolv.conf and /etc/hostname
// of a container from where the engine keeps them.
func (f *fixture) containerHostFiles(t *testing.T, name string) [3]string {
	t.Helper()
	var out [3]string
	for i, field := range []string{"HostsPath", "ResolvConfPath", "HostnamePath"} {
		p := strings.TrimSpace(f.engine.Output(t, "inspect", "--format", "{{."+field+"}}", name))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s of %s: %v", field, name, err)
		}
		out[i] = string(data)
	}
	return out
}

// change is a line of docker diff: A, C or D, and a path.
type change struct{ kind, path string }

// diff is what the container changed in its root filesystem, mounts
// aside.
func (f *fixture) diff(t *testing.T, name string) []change {
	t.Helper()
	var out []change
	for _, line := range strings.Split(strings.TrimSpace(f.engine.Output(t, "diff", name)), "\n") {
		if kind, p, ok := strings.Cut(line, " "); ok {
			out = append(out, change{kind, p})
		}
	}
	return out
}
