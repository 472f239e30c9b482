package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Jobs in fresh containers share their steps through a cache dir on a
// volume, and through a registry (--cache-to, --cache-from): a second job
// runs no step, and gives the same image.
func (f *fixture) testCacheBetweenJobs(t *testing.T) {
	vm := f.vmImage(t, "busybox", nil)
	ctx := f.context(t, "busybox", nil)
	out := t.TempDir()
	repo := f.reg.Ref("e2e/cache")
	job := func(name, cache string, flags ...string) result {
		t.Helper()
		args := append([]string{"build", "--build-arg", "BASE=" + f.bases["busybox"], "--cache-dir", "/cache",
			"-t", outMount + "/" + name + ".tar"}, flags...)
		return f.mustRun(t, container{name: name, volumes: []string{ctx + ":" + ctxMount, out + ":" + outMount, cache + ":/cache"}},
			append(args, ctxMount)...)
	}
	// The cache dir is on a volume, another filesystem than the
	// container's root: cache mounts are copied in and out.
	volume := t.TempDir()
	first := job("job-1", volume, "--cache-to", "type=registry,ref="+repo+",mode=max")
	sameImage(t, "in place", vm, filepath.Join(out, "job-1.tar"))
	f.checkUntouched(t, "job-1")
	for _, c := range []struct {
		name, cache string
		flags       []string
	}{
		{"job-2", volume, nil},
		{"job-3", t.TempDir(), []string{"--cache-from", "type=registry,ref=" + repo}},
	} {
		r := job(c.name, c.cache, c.flags...)
		if ran := ranSteps(r.stderr); len(ran) > 0 {
			t.Errorf("%s ran steps the cache holds:\n%s", c.name, strings.Join(ran, "\n"))
		}
		if r.stdout != first.stdout {
			t.Errorf("%s built %q, the first job %q", c.name, r.stdout, first.stdout)
		}
	}
}

var stepLine = regexp.MustCompile(`^#(\d+) \[[^]]+\] (RUN|COPY|ADD|WORKDIR) `)

// ranSteps are the RUN, COPY, ADD and WORKDIR steps of plain progress
// that were not CACHED.
func ranSteps(progress string) []string {
	lines := strings.Split(progress, "\n")
	var ran []string
	for _, l := range lines {
		m := stepLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		cached := false
		for _, o := range lines {
			if o == "#"+m[1]+" CACHED" {
				cached = true
			}
		}
		if !cached {
			ran = append(ran, l)
		}
	}
	return ran
}
