package dockertest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Engine is a running private Docker engine.
type Engine struct {
	// Host is the -H value of the docker CLI for this engine.
	Host string
	// Dir holds the engine's data root, exec root and socket.
	Dir    string
	docker string
}

// Tool is the path of the command name, failing the test (never skipping
// it) when it is missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed (apt-get install docker.io; .ci/run installs it): %v", name, err)
	}
	return p
}

// Start runs a private Docker engine for the test: its own data and exec
// roots and socket, no bridge (containers run with --network host or
// none), no iptables rules. The engine is stopped, and its dirs removed,
// when the test ends.
func Start(t testing.TB) *Engine {
	t.Helper()
	dockerd := Tool(t, "dockerd")
	e := &Engine{docker: Tool(t, "docker")}
	// Short: the engine puts unix sockets below it.
	dir, err := os.MkdirTemp("", "dockerd")
	if err != nil {
		t.Fatal(err)
	}
	e.Dir, e.Host = dir, "unix://"+filepath.Join(dir, "sock")
	var log bytes.Buffer
	cmd := exec.Command(dockerd, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "pid"), "-H", e.Host, "--bridge=none", "--iptables=false", "--ip6tables=false")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.stop(t, cmd) })
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		if e.Command("version").Run() == nil {
			return e
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("dockerd did not start:\n%s", log.String())
		}
	}
}

// stop stops the engine and removes its dirs.
func (e *Engine) stop(t testing.TB, cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	// The engine leaves the network namespace of --network host
	// containers mounted (exec/netns/default).
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(e.Dir))
	if err != nil {
		t.Errorf("list the engine's mounts: %v", err)
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		//	umount -l MOUNTPOINT
		if err := unix.Unmount(mounts[i].Mountpoint, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount what the engine left: %v", err)
		}
	}
	if err := os.RemoveAll(e.Dir); err != nil {
		t.Errorf("remove the engine's dir: %v", err)
	}
}

// Command is the docker CLI with args, against this engine.
func (e *Engine) Command(args ...string) *exec.Cmd {
	return exec.Command(e.docker, append([]string{"-H", e.Host}, args...)...)
}

// Run runs the docker CLI with args and returns its output (stdout and
// stderr), failing the test when it fails.
func (e *Engine) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := e.Command(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Output runs the docker CLI with args and returns its stdout, failing
// the test, with stderr, when it fails.
func (e *Engine) Output(t testing.TB, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := e.Command(args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// Load loads a docker-archive into the engine and returns the names it
// loaded ("Loaded image: NAME").
func (e *Engine) Load(t testing.TB, archive string) []string {
	t.Helper()
	out := e.Run(t, "load", "-i", archive)
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, "Loaded image: "); ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		t.Fatalf("docker load -i %s loaded no named image:\n%s", archive, out)
	}
	return names
}
