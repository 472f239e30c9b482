package build

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
)

// rootlessUser is the normal user the rootless tests build as, with a
// subuid and a subgid range of a million ids (the compat cases chown to
// 200000): .ci/run makes it, and so does the first test that needs it, on
// a machine where it is missing.
const rootlessUser = "mybuild-rootless"

var rootlessOnce struct {
	sync.Once
	uid, gid int
	err      error
}

// rootless returns the uid and gid of rootlessUser, made when missing.
func rootless(t *testing.T) (uid, gid int) {
	t.Helper()
	rootlessOnce.Do(func() {
		if _, err := user.Lookup(rootlessUser); err != nil {
			if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", rootlessUser).CombinedOutput(); err != nil {
				rootlessOnce.err = fmt.Errorf("useradd: %v: %s", err, out)
				return
			}
		}
		if !hasRange("/etc/subuid", "300000") || !hasRange("/etc/subgid", "300000") {
			out, err := exec.Command("usermod", "--add-subuids", "300000-1299999", "--add-subgids", "300000-1299999", rootlessUser).CombinedOutput()
			if err != nil {
				rootlessOnce.err = fmt.Errorf("usermod: %v: %s", err, out)
				return
			}
		}
		u, err := user.Lookup(rootlessUser)
		if err != nil {
			rootlessOnce.err = err
			return
		}
		rootlessOnce.uid, _ = strconv.Atoi(u.Uid)
		rootlessOnce.gid, _ = strconv.Atoi(u.Gid)
	})
	if rootlessOnce.err != nil {
		t.Fatalf("the rootless test user: %v", rootlessOnce.err)
	}
	return rootlessOnce.uid, rootlessOnce.gid
}

// hasRange tells whether file gives rootlessUser the range of a million
// ids from start.
func hasRange(file, start string) bool {
	data, _ := os.ReadFile(file)
	for _, line := range strings.Split(string(data), "\n") {
		if line == rootlessUser+":"+start+":1000000" {
			return true
		}
	}
	return false
}

var cliOnce struct {
	sync.Once
	path string
	err  error
}

// cli builds the mybuild command once, where every user may run it.
func cli(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mybuild-cli-")
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		if err != nil {
			cliOnce.err = err
			return
		}
		cliOnce.path = filepath.Join(dir, "mybuild")
		out, err := exec.Command("go", "build", "-o", cliOnce.path, "github.com/mybuild/mybuild/cmd/mybuild").CombinedOutput()
		if err != nil {
			cliOnce.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if cliOnce.err != nil {
		t.Fatal(cliOnce.err)
	}
	return cliOnce.path
}

// sharedDir is a temporary directory the rootless user owns, in a path
// it can reach.
func sharedDir(t *testing.T, uid, gid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mybuild-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runRootless runs mybuild as the rootless user, with a home of its own
// in home, and returns its stderr; a failure fails the test.
func runRootless(t *testing.T, home string, uid, gid int, args ...string) string {
	t.Helper()
	out, err := tryRootless(t, home, uid, gid, args...)
	if err != nil {
		t.Fatalf("mybuild %s as %s: %v\n%s", strings.Join(args, " "), rootlessUser, err, out)
	}
	return out
}

func tryRootless(t *testing.T, home string, uid, gid int, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(cli(t), args...)
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "USER=" + rootlessUser}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Every compat case built by a normal user, in the rootless mode, gives
// what BuildKit gives, as the namespaces mode does.
func TestRootlessCompatWithBuildKit(t *testing.T) {
	uid, gid := rootless(t)
	cases, err := imagetest.CompatCases(compatDir)
	if err != nil || len(cases) == 0 {
		t.Fatalf("no compat cases: %v", err)
	}
	opts := imagetest.CompatOptions(t, compatDir)
	opts.Ignore = nil
	home := sharedDir(t, uid, gid)
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(sharedDir(t, uid, gid), "context")
			if err := imagetest.PrepareContext(filepath.Join(compatDir, name), dir, imagetest.Busybox(t)); err != nil {
				t.Fatal(err)
			}
			if err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), dir).Run(); err != nil {
				t.Fatal(err)
			}
			buildArgs, target, err := imagetest.CaseOptions(filepath.Join(compatDir, name))
			if err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(filepath.Dir(dir), "image.tar")
			args := []string{"build", "-t", archive}
			for k, v := range buildArgs {
				args = append(args, "--build-arg", k+"="+v)
			}
			if target != "" {
				args = append(args, "--target", target)
			}
			out := runRootless(t, home, uid, gid, append(args, dir)...)
			// A case whose every layer an earlier case made builds outside
			// the user namespace (TestRootlessWarmBuildStaysOutside).
			if want := "#0 isolation: rootless (user " + rootlessUser; !strings.HasPrefix(out, want) {
				t.Errorf("first line of\n%s\nwant %q", out, want)
			}
			assertCompat(t, archive, name, opts)
		})
	}
}

// A rootless build confines its steps as a root one does: Docker's
// capabilities (none effective for another user), the seccomp filter,
// no ambient or inheritable set; RUN --security=sandbox, written out,
// is the default.
func TestRootlessStepConfinement(t *testing.T) {
	uid, gid := rootless(t)
	status := `grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t ' ' '`
	df := busyboxPrelude + "RUN --security=sandbox " + status + " > /root-status && mkdir -m 777 /w\n" +
		"RUN " + status + " > /default-status\nUSER 1000:1000\nRUN " + status + " > /w/user-status\n"
	const caps = "00000000a80425fb"
	root := "CapInh: 0000000000000000\nCapPrm: " + caps + "\nCapEff: " + caps + "\nCapBnd: " + caps + "\nCapAmb: 0000000000000000\nNoNewPrivs: 0\nSeccomp: 2\n"
	user := "CapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: " + caps + "\nCapAmb: 0000000000000000\nNoNewPrivs: 0\nSeccomp: 2\n"
	want := map[string]string{"/root-status": root, "/default-status": root, "/w/user-status": user}
	check := func(mode, archive string) {
		for p, content := range want {
			if line := lineOf(t, archive, p); !strings.Contains(line, " sha256="+sha256Hex(content)) {
				t.Errorf("%s: %s holds other than\n%s(%s)", mode, p, content, line)
			}
		}
	}
	dir := rootlessProject(t, uid, gid, df)
	runRootless(t, sharedDir(t, uid, gid), uid, gid, "build", "--isolation=rootless", "-t", filepath.Join(dir, "image.tar"), dir)
	check("rootless", filepath.Join(dir, "image.tar"))
	// The same Dockerfile as root, in the namespaces mode.
	out, _ := testBuild(t, withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df})), t.TempDir())
	check("namespaces", out)
}
