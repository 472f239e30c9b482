package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/runtest"
)

func TestMain(m *testing.M) {
	Main()
	os.Exit(m.Run())
}

// busyboxLayer makes a layer dir holding Debian's static busybox and a
// symlink per applet.
func busyboxLayer(t testing.TB) string {
	t.Helper()
	bb := "/bin/busybox"
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox-static is needed (apt-get install busybox-static): %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(bin, applet)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type result struct {
	stdout, stderr string
	err            error
	upper          string
}

func run(t *testing.T, lower []string, p Process) result {
	t.Helper()
	spec := Spec{Lower: lower, Upper: t.TempDir(), Scratch: t.TempDir(), Process: p}
	if spec.Env == nil {
		spec.Env = []string{"PATH=/bin"}
	}
	var stdout, stderr bytes.Buffer
	spec.Stdout, spec.Stderr = &stdout, &stderr
	err := Run(context.Background(), spec)
	if rest, _ := os.ReadDir(spec.Scratch); len(rest) != 0 {
		t.Errorf("scratch dir not emptied: %v", rest)
	}
	return result{stdout.String(), stderr.String(), err, spec.Upper}
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func TestRunShell(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: sh("echo hello; echo oops >&2; echo $$; hostname; pwd; id -u; echo $HOME")})
	if r.err != nil {
		t.Fatalf("run: %v (stderr %q)", r.err, r.stderr)
	}
	if want := "hello\n1\nmybuild\n/\n0\n/\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if r.stderr != "oops\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestExitCode(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: sh("exit 3")})
	var ee *ExitError
	if !errors.As(r.err, &ee) || ee.Code != 3 {
		t.Fatalf("err = %v, want exit code 3", r.err)
	}
}

func TestExecNotFound(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: []string{"nosuchcmd"}})
	var se *SetupError
	if !errors.As(r.err, &se) || !strings.Contains(se.Msg, `"nosuchcmd": executable file not found in $PATH`) {
		t.Fatalf("err = %v", r.err)
	}
}

// On FROM scratch there is no /proc, /dev, /etc: the step still gets them,
// and none of them reaches the upper dir.
func TestMountPointsStayOutOfTheLayer(t *testing.T) {
	bb := busyboxLayer(t)
	script := `set -e
test -c /dev/null && test -c /dev/zero && test -c /dev/full && test -c /dev/random
test -c /dev/urandom && test -c /dev/tty && test -e /dev/ptmx && test -d /dev/pts && test -d /dev/shm
test -r /proc/self/status && test -d /sys/class
echo data > /dev/null
test "$(head -c 3 /dev/zero | wc -c)" = 3
touch /dev/shm/x /tmpfile
ls /etc/resolv.conf /etc/hosts >/dev/null
! touch /etc/hosts 2>/dev/null`
	r := run(t, []string{bb}, Process{Args: sh(script)})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	assertUpper(t, r.upper, "tmpfile")
}

// Where the image has its own /etc, the stub for /etc/hosts must not
// change it: a step that does not touch /etc leaves no /etc in the layer.
func TestStubsKeepImageDirs(t *testing.T) {
	bb := busyboxLayer(t)
	etc := t.TempDir()
	if err := os.Mkdir(filepath.Join(etc, "etc"), 0o750); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(filepath.Join(etc, "etc"), mtime, mtime)
	r := run(t, []string{etc, bb}, Process{Args: sh(`stat -c '%a %Y' /etc; touch /new`)})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	if want := fmt.Sprintf("750 %d\n", mtime.Unix()); r.stdout != want {
		t.Errorf("/etc as seen by the step = %q, want %q", r.stdout, want)
	}
	assertUpper(t, r.upper, "new")
}

func assertUpper(t *testing.T, upper string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(upper)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("upper dir holds %v, want %v", got, want)
	}
}

func TestPivotRootHidesHost(t *testing.T) {
	bb := busyboxLayer(t)
	marker := filepath.Join(t.TempDir(), "host-only")
	os.WriteFile(marker, nil, 0o644)
	r := run(t, []string{bb}, Process{Args: sh(fmt.Sprintf(`test ! -e %s && awk '$5 == "/" {for (i = 7; i < NF; i++) if ($i == "-") {print $(i+1), $(i+2); exit}}' /proc/self/mountinfo`, marker))})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	if strings.TrimSpace(r.stdout) != "overlay overlay" {
		t.Errorf("root filesystem type and source = %q, want overlay overlay", r.stdout)
	}
}

func TestNetwork(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: sh("ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags"), Network: NetworkNone})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	lines := strings.Fields(r.stdout)
	if len(lines) != 3 || lines[0] != "lo" || lines[2] != "0x9" {
		t.Errorf("network none: got %q, want only lo, up (flags 0x9)", r.stdout)
	}
	host, _ := os.ReadDir("/sys/class/net")
	r = run(t, []string{bb}, Process{Args: sh("ls /sys/class/net | wc -l")})
	if r.err != nil || strings.TrimSpace(r.stdout) != fmt.Sprint(len(host)) {
		t.Errorf("network host: got %q (%v), want %d interfaces", r.stdout, r.err, len(host))
	}
}

func TestUserAndDir(t *testing.T) {
	bb := busyboxLayer(t)
	etc := t.TempDir()
	os.MkdirAll(filepath.Join(etc, "etc"), 0o755)
	os.WriteFile(filepath.Join(etc, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "etc/group"), []byte("root:x:0:\napp:x:1000:\nextra:x:2000:app\n"), 0o644)
	r := run(t, []string{etc, bb}, Process{Args: sh("id -u; id -g; id -G; pwd; echo $HOME"), User: "app", Dir: "/work/dir"})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	if want := "1000\n1000\n1000 2000\n/work/dir\n/home/app\n"; r.stdout != want {
		t.Errorf("got %q, want %q", r.stdout, want)
	}
	r = run(t, []string{etc, bb}, Process{Args: sh("true"), User: "ghost"})
	if r.err == nil || !strings.Contains(r.err.Error(), "unable to find user ghost") {
		t.Errorf("unknown user: err = %v", r.err)
	}
}

func TestExecFormWithoutShell(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755)
	r := run(t, []string{dir}, Process{Args: []string{"/bin/busybox", "mkdir", "-p", "/out/x"}})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(r.upper, "out/x")); err != nil || !fi.IsDir() {
		t.Fatalf("out/x not created in upper: %v", err)
	}
}

// overlayPaths runs test with each way of mounting an overlay: the
// kernel's best (one lower dir at a time, "lowerdir+", from Linux 6.8),
// and the option string of mount(2) over short links, as on older
// kernels.
func overlayPaths(t *testing.T, test func(t *testing.T)) {
	for _, linked := range []bool{false, true} {
		name := "best"
		if linked {
			name = "linked"
		}
		t.Run(name, func(t *testing.T) {
			linkedOverlays = linked
			t.Cleanup(func() { linkedOverlays = false })
			test(t)
		})
	}
}

// A step's root is a volatile overlay, both ways of mounting it: no sync
// reaches the cache's filesystem from the step, nor from its unmount.
func TestRootVolatile(t *testing.T) { overlayPaths(t, testRootVolatile) }

func testRootVolatile(t *testing.T) {
	if !kernelAtLeast(5, 10) {
		t.Skip("overlayfs has no volatile mounts before Linux 5.10")
	}
	r := run(t, []string{busyboxLayer(t)}, Process{Args: sh("cat /proc/self/mountinfo")})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		mount, super, ok := strings.Cut(line, " - ")
		if f := strings.Fields(mount); !ok || len(f) < 5 || f[4] != "/" {
			continue
		}
		// "fsync=volatile" where the kernel names it so.
		opts := strings.Split(strings.Fields(super + " . . .")[2], ",")
		if f := strings.Fields(super); len(f) < 3 || f[0] != "overlay" ||
			!slices.Contains(opts, "volatile") && !slices.Contains(opts, "fsync=volatile") {
			t.Errorf("the root is not a volatile overlay: %s", line)
		}
		return
	}
	t.Fatalf("no root mount in\n%s", r.stdout)
}

func TestManyLayers(t *testing.T) { overlayPaths(t, testManyLayers) }

func testManyLayers(t *testing.T) {
	bb := busyboxLayer(t)
	lower := []string{}
	for i := 0; i < 200; i++ {
		d := filepath.Join(t.TempDir(), fmt.Sprintf("layer-with-a-long-directory-name-%03d", i))
		os.MkdirAll(filepath.Join(d, "layers"), 0o755)
		os.WriteFile(filepath.Join(d, "layers", fmt.Sprint(i)), nil, 0o644)
		lower = append([]string{d}, lower...)
	}
	r := run(t, append(lower, bb), Process{Args: sh("ls /layers | wc -l")})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	if strings.TrimSpace(r.stdout) != "200" {
		t.Errorf("saw %q layers, want 200", r.stdout)
	}
}

// Cancelling the context kills the step and everything it started, and
// leaves no mount behind.
func TestCancelKillsEverything(t *testing.T) {
	bb := busyboxLayer(t)
	marker := runtest.UniqueSleep()
	ctx, cancel := context.WithCancel(context.Background())
	upper, scratch := t.TempDir(), t.TempDir()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Spec{Lower: []string{bb}, Upper: upper, Scratch: scratch, Process: Process{Env: []string{"PATH=/bin"}, Args: sh(fmt.Sprintf("sleep %s & sleep %s", marker, marker))}})
	}()
	runtest.WaitFor(t, "both sleeps", func() bool { return len(runtest.Procs(marker)) == 2 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	runtest.WaitFor(t, "the end of every sleep", func() bool { return len(runtest.Procs(marker)) == 0 })
	runtest.AssertNoMountsUnder(t, scratch)
}

// A builder killed with SIGKILL takes its step down with it.
func TestBuilderDeathKillsStep(t *testing.T) {
	if os.Getenv("SANDBOX_TEST_CHILD") == "1" {
		bb := os.Getenv("SANDBOX_TEST_LOWER")
		_ = Run(context.Background(), Spec{Lower: []string{bb}, Upper: os.Getenv("SANDBOX_TEST_UPPER"), Scratch: os.Getenv("SANDBOX_TEST_SCRATCH"), Process: Process{Env: []string{"PATH=/bin"}, Args: sh("exec sleep " + os.Getenv("SANDBOX_TEST_MARKER"))}})
		os.Exit(0)
	}
	bb := busyboxLayer(t)
	marker := runtest.UniqueSleep()
	scratch := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBuilderDeathKillsStep$")
	cmd.Env = append(os.Environ(), "SANDBOX_TEST_CHILD=1", "SANDBOX_TEST_LOWER="+bb, "SANDBOX_TEST_UPPER="+t.TempDir(),
		"SANDBOX_TEST_SCRATCH="+scratch, "SANDBOX_TEST_MARKER="+marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	runtest.WaitFor(t, "the sleep", func() bool { return len(runtest.Procs(marker)) == 1 })
	cmd.Process.Kill()
	cmd.Wait()
	runtest.WaitFor(t, "the end of every sleep", func() bool { return len(runtest.Procs(marker)) == 0 })
	runtest.AssertNoMountsUnder(t, scratch)
}

func TestPipes(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: []string{"/dev/pipes/script"},
		Pipes: []Pipe{{Name: "script", Data: []byte("#!/bin/sh\necho from a pipe $0\n"), Mode: 0o755}}})
	if r.err != nil || r.stdout != "from a pipe /dev/pipes/script\n" {
		t.Fatalf("%q, %v\n%s", r.stdout, r.err, r.stderr)
	}
	assertUpper(t, r.upper)
}

func TestMounts(t *testing.T) { overlayPaths(t, testMounts) }

func testMounts(t *testing.T) {
	bb := busyboxLayer(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "ro.txt"), []byte("read only\n"), 0o644)
	rw := t.TempDir()
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "opt/tool"), 0o755)
	os.WriteFile(filepath.Join(stage, "opt/tool/bin"), []byte("from a stage\n"), 0o755)
	script := `set -e
cat /mnt/ro/ro.txt
! touch /mnt/ro/new 2>/dev/null
echo cached > /cache/file
echo scratch > /tmp/t/x && df /tmp/t | tail -1 | awk '{print $1}'
cat /stage/bin
echo written > /stage/scribble
cmp /stage-ro/bin /stage/bin && ! touch /stage-ro/x 2>/dev/null
cat /run/secrets/token; stat -c '%a %u' /run/secrets/token
! echo x > /run/secrets/token 2>/dev/null`
	r := run(t, []string{bb}, Process{Args: sh(script), Mounts: []Mount{
		{Kind: MountBind, Source: host, Target: "/mnt/ro", ReadOnly: true},
		{Kind: MountBind, Source: rw, Target: "/cache"},
		{Kind: MountTmpfs, Target: "/tmp/t", Size: 1 << 20},
		{Kind: MountOverlay, Lower: []string{stage}, Source: "/opt/tool", Target: "/stage"},
		{Kind: MountOverlay, Lower: []string{stage}, Source: "/opt/tool", Target: "/stage-ro", ReadOnly: true},
		{Kind: MountFile, Data: []byte("s3cret\n"), Mode: 0o440, UID: 7, Target: "/run/secrets/token"},
	}})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	if want := "read only\ntmpfs\nfrom a stage\ns3cret\n440 7\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if data, _ := os.ReadFile(filepath.Join(rw, "file")); string(data) != "cached\n" {
		t.Errorf("a read-write bind did not write through: %q", data)
	}
	if _, err := os.Stat(filepath.Join(stage, "opt/tool/scribble")); err == nil {
		t.Error("a write to a stage mount reached the stage")
	}
	// No mount point, no mount content in the layer.
	assertUpper(t, r.upper)
}

// A mount target is looked up inside the root: a symlink in an earlier
// mount that points at a host path leads into the root, so the mount
// points made for later mounts land there and never on the host.
func TestMountTargetsStayInTheRoot(t *testing.T) {
	bb := busyboxLayer(t)
	cache, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(cache, "x")); err != nil {
		t.Fatal(err)
	}
	script := `set -e
echo scratch > /cache/x/y/f
df /cache/x/y | tail -1 | awk '{print $1}'
cat /cache/x/token`
	r := run(t, []string{bb}, Process{Args: sh(script), Mounts: []Mount{
		{Kind: MountBind, Source: cache, Target: "/cache"},
		{Kind: MountTmpfs, Target: "/cache/x/y"},
		{Kind: MountFile, Data: []byte("s3cret\n"), Target: "/cache/x/token"},
	}})
	if r.err != nil {
		t.Errorf("run: %v\n%s", r.err, r.stderr)
	}
	if want := "tmpfs\ns3cret\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Errorf("the sandbox made %v in a host dir", left)
	}
}

// The source of an overlay mount is looked up inside the stage: a
// symlink to a host dir in it never binds the host dir.
func TestOverlaySourceStaysInTheStage(t *testing.T) {
	bb := busyboxLayer(t)
	stage, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "host-only"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(stage, "link")); err != nil {
		t.Fatal(err)
	}
	r := run(t, []string{bb}, Process{Args: sh("ls /stage; touch /stage/new"), Mounts: []Mount{
		{Kind: MountOverlay, Lower: []string{stage}, Source: "/link", Target: "/stage"},
	}})
	if strings.Contains(r.stdout, "host-only") {
		t.Errorf("the step saw a host dir: %q", r.stdout)
	}
	if left, _ := os.ReadDir(outside); len(left) != 1 {
		t.Errorf("the host dir holds %v", left)
	}
}

// A file mount has the mode it is given, 0 included: a default (0400 for
// secrets) is the caller's business.
func TestFileMountMode(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: sh("stat -c %a /run/zero /run/some"), Mounts: []Mount{
		{Kind: MountFile, Data: []byte("x"), Target: "/run/zero"},
		{Kind: MountFile, Data: []byte("x"), Target: "/run/some", Mode: 0o604},
	}})
	if r.err != nil || r.stdout != "0\n604\n" {
		t.Errorf("modes %q, want 0 and 604; err %v\n%s", r.stdout, r.err, r.stderr)
	}
}

// Run works on its own copy of the mounts: the caller's are unchanged.
func TestRunLeavesTheMountsAlone(t *testing.T) {
	bb := busyboxLayer(t)
	mounts := []Mount{
		{Kind: MountTmpfs, Target: "/tmp/t/"},
		{Kind: MountFile, Data: []byte("x"), Target: "/run/../secret"},
	}
	want := slices.Clone(mounts)
	r := run(t, []string{bb}, Process{Args: sh("true"), Mounts: mounts})
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	for i := range mounts {
		if m, w := mounts[i], want[i]; m.Target != w.Target || m.File != w.File || m.ReadOnly != w.ReadOnly {
			t.Errorf("mount %d became %+v, was %+v", i, m, w)
		}
	}
}

// A working dir that exists as something else is an error, and is left
// as it was: not given to the step's user.
func TestWorkdirThatIsAFile(t *testing.T) {
	bb := busyboxLayer(t)
	files := t.TempDir()
	if err := os.WriteFile(filepath.Join(files, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, []string{files, bb}, Process{Args: sh("true"), Dir: "/f", User: "1000"})
	if r.err == nil || !strings.Contains(r.err.Error(), "working directory /f") {
		t.Errorf("err = %v, want an error about the working directory", r.err)
	}
	assertUpper(t, r.upper)
}
