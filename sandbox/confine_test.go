package sandbox

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/sandbox/devcgroup"
	"golang.org/x/sys/unix"
)

// Docker's default capability set, as /proc/self/status prints it.
const dockerCaps = "00000000a80425fb"

// probeLayer builds testdata/probe for goarch into a layer dir, as
// /bin/probe with the given mode.
func probeLayer(t *testing.T, goarch string, mode os.FileMode) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "probe")
	cmd := exec.Command(goCmd, "build", "-o", bin, "./testdata/probe")
	cmd.Env = append(os.Environ(), "GOARCH="+goarch, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the probe for %s: %v\n%s", goarch, err, out)
	}
	if err := os.Chmod(bin, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// statusFields are the lines of the sandboxed process's /proc/self/status
// that tell its confinement.
const statusFields = `grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t ' ' '`

func TestCapabilitiesAndSeccomp(t *testing.T) {
	bb := busyboxLayer(t)
	for _, c := range []struct {
		user, want string
	}{
		{"", "CapInh: 0000000000000000\nCapPrm: " + dockerCaps + "\nCapEff: " + dockerCaps + "\nCapBnd: " + dockerCaps + "\nCapAmb: 0000000000000000\nNoNewPrivs: 0\nSeccomp: 2\n"},
		{"1000:1000", "CapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: " + dockerCaps + "\nCapAmb: 0000000000000000\nNoNewPrivs: 0\nSeccomp: 2\n"},
	} {
		r := run(t, []string{bb}, Process{Args: sh(statusFields), User: c.user})
		if r.err != nil {
			t.Fatalf("user %q: %v\n%s", c.user, r.err, r.stderr)
		}
		if r.stdout != c.want {
			t.Errorf("user %q:\n%s\nwant:\n%s", c.user, r.stdout, c.want)
		}
	}
	assertNoCgroupsLeft(t)
}

// The filter covers the host's 32-bit ABI too: a 386 program entering the
// kernel with int 0x80 is refused the same syscalls.
func TestSeccompCoversEveryABI(t *testing.T) {
	want := "getpid 0\nunshare EPERM\nclone3 ENOSYS\nkeyctl EPERM\npersonality EPERM\nsocket EPERM\nmount EPERM\neuid 0\nCapEff: " + dockerCaps + "\nSeccomp: 2\n"
	arches := []string{runtime.GOARCH}
	if runtime.GOARCH == "amd64" {
		arches = append(arches, "386")
	}
	for _, goarch := range arches {
		r := run(t, []string{probeLayer(t, goarch, 0o755)}, Process{Args: []string{"/bin/probe"}})
		if r.err != nil {
			t.Fatalf("%s: %v\n%s", goarch, r.err, r.stderr)
		}
		if r.stdout != want {
			t.Errorf("%s probe:\n%s\nwant:\n%s", goarch, r.stdout, want)
		}
	}
}

// No no_new_privs: a setuid-root program run by another user becomes
// root, with the default set, and stays under the filter, as in Docker.
func TestSetuidProgramsWork(t *testing.T) {
	r := run(t, []string{probeLayer(t, runtime.GOARCH, os.ModeSetuid|0o755)}, Process{Args: []string{"/bin/probe"}, User: "1000:1000"})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	for _, want := range []string{"unshare EPERM\n", "euid 0\n", "CapEff: " + dockerCaps + "\n", "Seccomp: 2\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("setuid probe run as 1000 printed:\n%s\nwant a line %q", r.stdout, want)
		}
	}
}

// In the host's network namespace a step can use the network but not
// reconfigure it: the host's loopback keeps its addresses.
func TestNetworkCannotBeReconfigured(t *testing.T) {
	bb := busyboxLayer(t)
	// Should the step get through, the host must not keep the address.
	t.Cleanup(func() { _ = exec.Command("/bin/busybox", "ip", "addr", "del", "127.0.0.99/32", "dev", "lo").Run() })
	r := run(t, []string{bb}, Process{Args: sh("ip addr add 127.0.0.99/32 dev lo"), Network: NetworkHost})
	if r.err == nil || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("ip addr add: err = %v, stderr %q", r.err, r.stderr)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := lo.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), "127.0.0.99") {
			t.Fatalf("the step added %s to the host's lo", a)
		}
	}
	r = run(t, []string{bb}, Process{Args: sh("ping -c1 -W5 127.0.0.1 >/dev/null && echo pinged"), Network: NetworkHost})
	if r.err != nil || r.stdout != "pinged\n" {
		t.Errorf("ping (CAP_NET_RAW): %v, %q %q", r.err, r.stdout, r.stderr)
	}
}

func TestMountIsRefused(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: sh("mkdir -p /mnt && mount -t tmpfs tmpfs /mnt")})
	if r.err == nil {
		t.Fatalf("mount worked: %s", r.stdout)
	}
	if !strings.Contains(r.stderr, "permission denied") {
		t.Errorf("stderr %q", r.stderr)
	}
}

// /proc/sys and friends are read-only, /proc/kcore and friends empty.
func TestProcIsConfined(t *testing.T) {
	bb := busyboxLayer(t)
	script := `for f in /proc/sysrq-trigger /proc/sys/vm/drop_caches /proc/sys/kernel/hostname; do
	if echo 1 2>/dev/null >"$f"; then echo "wrote $f"; else echo "refused $f"; fi
done
for f in "$@"; do echo "$f $(wc -c <"$f")"; done
echo "/sys/firmware: $(ls -A /sys/firmware)"
touch /sys/x 2>/dev/null || echo "/sys read-only"`
	// Files the host's kernel has (this one has no /proc/kcore).
	var masked []string
	sizes := ""
	for _, f := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"} {
		if _, err := os.Stat(f); err == nil {
			masked = append(masked, f)
			sizes += f + " 0\n"
		}
	}
	if len(masked) == 0 {
		t.Fatal("the host has none of the masked files")
	}
	r := run(t, []string{bb}, Process{Args: append(sh(script), append([]string{"sh"}, masked...)...)})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	want := "refused /proc/sysrq-trigger\nrefused /proc/sys/vm/drop_caches\nrefused /proc/sys/kernel/hostname\n" +
		sizes + "/sys/firmware: \n/sys read-only\n"
	if r.stdout != want {
		t.Errorf("got:\n%s\nwant:\n%s", r.stdout, want)
	}
}

// A step may make device nodes (debootstrap does), but open only those of
// its own /dev.
func TestDeviceNodesCannotBeOpened(t *testing.T) {
	bb := busyboxLayer(t)
	assertDevicesRefused(t, run(t, []string{bb}, Process{Args: sh(devicesScript)}))
	assertNoCgroupsLeft(t)
}

// devicesScript makes device nodes, and tries to open them and the
// sandbox's own /dev/null (assertDevicesRefused).
const devicesScript = `mkdir -p /tmp; mknod /tmp/kmsg c 1 11 && mknod /tmp/loop-control c 10 237 && mknod /tmp/loop0 b 7 0 && mknod /tmp/null c 1 3 && echo made
for n in /tmp/kmsg /tmp/loop-control /tmp/loop0; do { true <"$n"; } 2>&1 && echo "opened $n"; done
echo x >/tmp/null && echo x >/dev/null && head -c1 /dev/urandom >/dev/null && echo null works`

// assertDevicesRefused checks what devicesScript printed: only null
// opened.
func assertDevicesRefused(t *testing.T, r result) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	want := "made\n"
	for _, n := range []string{"kmsg", "loop-control", "loop0"} {
		want += "/bin/sh: can't open /tmp/" + n + ": Operation not permitted\n"
	}
	if want += "null works\n"; r.stdout != want {
		t.Errorf("got:\n%s\nwant:\n%s", r.stdout, want)
	}
}

// What builds do every day still works under the confinement.
func TestOrdinaryStepsStillWork(t *testing.T) {
	bb := busyboxLayer(t)
	script := `set -e
mkdir -p /etc /home/app /tmp /data
echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd; echo 'root:x:0:' >/etc/group
echo 'app:x:1500:1500::/home/app:/bin/sh' >>/etc/passwd; echo 'app:x:1500:' >>/etc/group
chown app:app /data /home/app
stat -c '%U:%G' /data
echo hi >/data/f && chown 1500:1500 /data/f && chmod 4755 /data/f && test -u /data/f && echo setuid bit kept
su -s /bin/sh app -c 'id -u; touch /data/mine' && stat -c %U /data/mine
mkfifo /tmp/fifo && (echo through >/tmp/fifo &) && cat /tmp/fifo
chroot / true && echo chroot works`
	r := run(t, []string{bb}, Process{Args: sh(script)})
	if r.err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	if want := "app:app\nsetuid bit kept\n1500\napp\nthrough\nchroot works\n"; r.stdout != want {
		t.Errorf("got:\n%s\nwant:\n%s", r.stdout, want)
	}
}

// An insecure step has every capability the builder has, no filter, a
// writable /sys and /proc/sys, and may mount.
func TestInsecure(t *testing.T) {
	own, err := ownPermitted()
	if err != nil {
		t.Fatal(err)
	}
	ownHex := fmt.Sprintf("%016x", own)
	bb := busyboxLayer(t)
	script := statusFields + `
mkdir -p /mnt && mount -t tmpfs tmpfs /mnt && echo mounted
grep -q ' /sys sysfs rw' /proc/mounts && echo sys writable
grep -q ' /proc/sys ' /proc/mounts || echo proc/sys not read-only`
	for _, user := range []string{"", "1000:1000"} {
		r := run(t, []string{bb}, Process{Args: sh(script), User: user, Security: SecurityInsecure})
		if r.err != nil && user == "" {
			t.Fatalf("%v\n%s", r.err, r.stderr)
		}
		want := "CapInh: " + ownHex + "\nCapPrm: " + ownHex + "\nCapEff: " + ownHex + "\nCapBnd: " + ownHex + "\nCapAmb: " + ownHex + "\nNoNewPrivs: 0\nSeccomp: 0\nmounted\nsys writable\nproc/sys not read-only\n"
		if r.stdout != want {
			t.Errorf("user %q:\n%s\nwant:\n%s\n%s", user, r.stdout, want, r.stderr)
		}
	}
	if _, err := os.Stat("/dev/kmsg"); err == nil {
		r := run(t, []string{bb}, Process{Args: sh("test -c /dev/kmsg && true </dev/kmsg && echo kmsg"), Security: SecurityInsecure})
		if r.stdout != "kmsg\n" {
			t.Errorf("insecure step without the host's kmsg: %v %q %q", r.err, r.stdout, r.stderr)
		}
	}
}

func TestUnknownSecurityMode(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: sh("true"), Security: "lax"})
	if r.err == nil || !strings.Contains(r.err.Error(), `unknown security mode "lax"`) {
		t.Errorf("err = %v", r.err)
	}
	if _, err := ParseSecurity("lax"); err == nil {
		t.Error("ParseSecurity accepted lax")
	}
}

// assertNoCgroupsLeft fails if a device cgroup of this process remains.
func assertNoCgroupsLeft(t *testing.T) {
	t.Helper()
	for _, root := range []string{"/sys/fs/cgroup/devices", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		left, _ := filepath.Glob(filepath.Join(root, "*", fmt.Sprintf("mybuild-%d-*", os.Getpid())))
		more, _ := filepath.Glob(filepath.Join(root, fmt.Sprintf("mybuild-%d-*", os.Getpid())))
		if left = append(left, more...); len(left) > 0 {
			t.Errorf("device cgroups left: %v", left)
		}
	}
}

// The init reads the image's /etc/passwd only in the device cgroup, and
// only when it is a regular file: an earlier step may have made it the
// kernel log's node, or a fifo that would block the init forever.
func TestInitOpensNoDeviceOfTheImage(t *testing.T) {
	bb := busyboxLayer(t)
	for _, c := range []struct {
		name string
		make func(string) error
		want string
	}{
		{"kmsg", func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 11))) }, "operation not permitted"},
		{"fifo", func(p string) error { return unix.Mkfifo(p, 0o644) }, "is not a regular file"},
	} {
		etc := t.TempDir()
		if err := os.Mkdir(filepath.Join(etc, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := c.make(filepath.Join(etc, "etc/passwd")); err != nil {
			t.Fatal(err)
		}
		r := run(t, []string{etc, bb}, Process{Args: sh("true"), User: "app"})
		if r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%s /etc/passwd: err = %v, want %q", c.name, r.err, c.want)
		}
	}
	assertNoCgroupsLeft(t)
}

// devicesRestricted tells a container's restrictive device policy from a
// privileged one's, by trying the devices a step must not open.
func TestDevicesRestricted(t *testing.T) {
	if dir := os.Getenv("SANDBOX_TEST_PROBE_DIR"); dir != "" {
		var line string
		fmt.Scanln(&line) // wait to be moved into the cgroup
		ok, err := devicesRestricted(dir)
		fmt.Println(ok, err)
		os.Exit(0)
	}
	for _, c := range []struct {
		rules []devcgroup.Rule
		want  string
	}{
		{allowedDevices, "true <nil>\n"},
		{[]devcgroup.Rule{{Type: 'c', Major: devcgroup.Any, Minor: devcgroup.Any, Access: "rwm"}, {Type: 'b', Major: devcgroup.Any, Minor: devcgroup.Any, Access: "rwm"}}, "false <nil>\n"},
	} {
		cg, err := devcgroup.New(c.rules)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestDevicesRestricted$")
		cmd.Env = append(os.Environ(), "SANDBOX_TEST_PROBE_DIR="+t.TempDir())
		stdin, _ := cmd.StdinPipe()
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := cg.Add(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(stdin, "go")
		cmd.Wait()
		if err := cg.Remove(); err != nil {
			t.Error(err)
		}
		if out.String() != c.want {
			t.Errorf("under %v: %q, want %q", c.rules, out.String(), c.want)
		}
	}
}

// A step runs in a device cgroup of its own: on cgroup v2, born there
// (CLONE_INTO_CGROUP) rather than moved in.
func TestStepHasItsOwnCgroup(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: sh("cat /proc/self/cgroup")})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	own := regexp.MustCompile(fmt.Sprintf(`(?m)^0::.*/mybuild-%d-[0-9a-f]{8}$`, os.Getpid()))
	if !own.MatchString(r.stdout) {
		t.Errorf("the step's cgroups:\n%s\nwant a cgroup v2 mybuild-%d-*", r.stdout, os.Getpid())
	}
}
