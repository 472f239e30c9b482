package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
)

// jobImage is the job image of testdata/job, loaded into the engine.
const jobImage = "mybuild-job:e2e"

// A CI job's shell (testdata/job: mybuild's image with busybox under
// /mybuild) runs a script that builds in place twice and goes on after:
// the builds empty the container's root, but not the shell's directory.
func (f *fixture) testShellJob(t *testing.T) {
	ctx := f.context(t, "job", map[string]string{"busybox": imagetest.Busybox(t)})
	archive := filepath.Join(t.TempDir(), "job.tar")
	f.vmBuild(t, ctx, "--build-arg", "MYBUILD=docker-archive:"+filepath.Join(f.dir, "mybuild-image.tar"),
		"-t", "docker-archive:"+archive+":"+jobImage)
	f.engine.Load(t, archive)

	vm := f.vmImage(t, "busybox", nil)
	build := "mybuild build --build-arg BASE=" + f.bases["busybox"] + " " + ctxMount
	script := strings.Join([]string{
		"set -e",
		// A job may change the umask: steps still get the normal mode's 022.
		"umask 077",
		build + " -t " + outMount + "/first.tar",
		// Another cache: every step runs again.
		build + " --cache-dir /mybuild/cache/second -t " + outMount + "/second.tar",
		"mkdir -p " + outMount + "/after && echo still here > " + outMount + "/after/done",
		"grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status > " + outMount + "/after/status",
	}, "\n") + "\n"
	out := t.TempDir()
	// GitLab's docker executor starts the job's container with sh -c,
	// which finds /busybox/sh, and feeds the script to it.
	f.mustRun(t, container{name: "job", image: jobImage, noEntrypoint: true, stdin: script,
		volumes: []string{f.context(t, "busybox", nil) + ":" + ctxMount, out + ":" + outMount}},
		"sh", "-c", "[ -x /busybox/sh ] && exec /busybox/sh")
	for _, name := range []string{"first.tar", "second.tar"} {
		sameImage(t, "in place", vm, filepath.Join(out, name))
	}
	if data, err := os.ReadFile(filepath.Join(out, "after", "done")); err != nil || string(data) != "still here\n" {
		t.Errorf("the script after the builds: %q, %v", data, err)
	}
	// Docker's default confinement: its capabilities (no CAP_SYS_ADMIN),
	// its seccomp filter, no no_new_privs.
	want := "CapEff:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n"
	if data, err := os.ReadFile(filepath.Join(out, "after", "status")); err != nil || string(data) != want {
		t.Errorf("the job's confinement: %q, %v; want %q", data, err, want)
	}
	f.checkUntouched(t, "job")
}
