package build

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/transport"
)

// startDockerd runs a private Docker engine (Debian's docker.io) for one
// test: its own data and exec roots and socket, no bridge, no iptables
// rules. It returns the -H value for the docker CLI. The engine is
// stopped, and its dirs removed, when the test ends.
func startDockerd(t *testing.T) string {
	t.Helper()
	dockerd := tool(t, "dockerd")
	docker := tool(t, "docker")
	// Short: the engine puts unix sockets below it.
	dir, err := os.MkdirTemp("", "dockerd")
	if err != nil {
		t.Fatal(err)
	}
	host := "unix://" + filepath.Join(dir, "sock")
	var log bytes.Buffer
	cmd := exec.Command(dockerd, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "pid"), "-H", host, "--bridge=none", "--iptables=false", "--ip6tables=false")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the engine's dir: %v", err)
		}
	})
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		if exec.Command(docker, "-H", host, "version").Run() == nil {
			return host
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("dockerd did not start:\n%s", log.String())
		}
	}
}

// A docker-archive loads into a real Docker engine and runs there with
// its config: the CMD, the env and the working dir.
func TestDockerLoadsTheArchive(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": busyboxPrelude + `ENV GREETING=hello
WORKDIR /app
RUN echo "$GREETING from mybuild" > msg && rm /bin/vi
CMD ["sh", "-c", "cat msg; pwd; ls /bin/vi 2>&1 || true"]
`,
	}))
	archive := filepath.Join(t.TempDir(), "app.tar")
	testBuild(t, dir, t.TempDir(), func(o *Options) {
		o.Outputs = []transport.Ref{{Transport: transport.DockerArchive, Path: archive, Name: "mybuild-test/app:v1"}}
	})
	host := startDockerd(t)
	if out := runTool(t, "docker", "-H", host, "load", "-i", archive); !strings.Contains(out, "Loaded image: mybuild-test/app:v1") {
		t.Errorf("docker load: %s", out)
	}
	out := runTool(t, "docker", "-H", host, "run", "--rm", "--network", "none", "mybuild-test/app:v1")
	if want := "hello from mybuild\n/app\nls: /bin/vi: No such file or directory\n"; out != want {
		t.Errorf("docker run printed %q, want %q", out, want)
	}
}
