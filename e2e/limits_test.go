package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A volume below /var/run, as a pod's service account token, cannot stay
// where the Debian image has a symlink /var/run: the build fails at its
// first step, in one line saying what to do, and the volume is untouched.
func (f *fixture) testMountBelowSymlink(t *testing.T) {
	ctx := f.context(t, "debian", map[string]string{"hello.deb": helloDeb(t)})
	token := t.TempDir()
	if err := os.WriteFile(filepath.Join(token, "token"), []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := tree(t, token)
	r := f.run(t, container{name: "var-run", volumes: []string{ctx + ":" + ctxMount, token + ":/var/run/secrets/kubernetes.io/serviceaccount:ro"}},
		"build", "--build-arg", "BASE="+f.bases["debian"], ctxMount)
	want := `: layer entry "var/run": /var/run is a directory holding /var/run/secrets/kubernetes.io/serviceaccount: a path below it must be left alone, ` +
		"as a mount point is by a build in place: mount nothing where the image has a file or a symlink (in Kubernetes, automountServiceAccountToken: false frees /var/run)\n"
	last := r.stderr[strings.LastIndex(strings.TrimSuffix(r.stderr, "\n"), "\n")+1:]
	if r.code != 1 || !strings.HasPrefix(last, "mybuild: Dockerfile:") || !strings.HasSuffix(last, want) {
		t.Errorf("exit %d, last line %q\nwant exit 1, a line ending with %q\n%s", r.code, last, want, r.stderr)
	}
	if d := treeDiff(before, tree(t, token)); len(d) > 0 {
		t.Errorf("the build changed the volume below /var/run:\n%s", strings.Join(d, "\n"))
	}
}
