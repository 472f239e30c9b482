package build

import (
	"path/filepath"
	"testing"

	"github.com/mybuild/mybuild/internal/dockertest"
	"github.com/mybuild/mybuild/transport"
)

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
	engine := dockertest.Start(t)
	if names := engine.Load(t, archive); len(names) != 1 || names[0] != "mybuild-test/app:v1" {
		t.Errorf("docker load loaded %q", names)
	}
	out := engine.Run(t, "run", "--rm", "--network", "none", "mybuild-test/app:v1")
	if want := "hello from mybuild\n/app\nls: /bin/vi: No such file or directory\n"; out != want {
		t.Errorf("docker run printed %q, want %q", out, want)
	}
}
