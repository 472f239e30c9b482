package devcgroup

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rules allow making any node, and using only /dev/null.
var rules = []Rule{
	{Type: 'c', Major: Any, Minor: Any, Access: "m"},
	{Type: 'b', Major: Any, Minor: Any, Access: "m"},
	{Type: 'c', Major: 1, Minor: 3, Access: "rwm"},
}

// nodes makes a null (1:3) and a kmsg (1:11) node, which this process
// can open.
func nodes(t *testing.T) (null, kmsg string) {
	t.Helper()
	dir := t.TempDir()
	null, kmsg = filepath.Join(dir, "null"), filepath.Join(dir, "kmsg")
	for _, n := range []struct {
		path         string
		major, minor uint32
	}{{null, 1, 3}, {kmsg, 1, 11}} {
		if err := unix.Mknod(n.path, unix.S_IFCHR|0o600, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Fatalf("mknod (needs root): %v", err)
		}
		f, err := os.Open(n.path)
		if err != nil {
			t.Fatalf("%s cannot be opened even outside a cgroup (nodev mount?): %v", n.path, err)
		}
		f.Close()
	}
	return null, kmsg
}

// inCgroup runs script with busybox sh in cg, started before it is moved
// in and held until then, and returns its output.
func inCgroup(t *testing.T, cg *Cgroup, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command("/bin/busybox", append([]string{"sh", "-c", "read x; " + script, "sh"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("busybox-static is needed: %v", err)
	}
	if err := cg.Add(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	io.WriteString(stdin, "go\n")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return out.String()
}

func TestDeviceRules(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			if _, err := findHierarchies(v); err != nil {
				t.Fatalf("this machine has cgroup v1 with the devices controller and cgroup v2 (hybrid): %v", err)
			}
			null, kmsg := nodes(t)
			cg, err := newIn(v, rules)
			if err != nil {
				t.Fatal(err)
			}
			made := filepath.Join(t.TempDir(), "made")
			script := `for n in "$1" "$2"; do if true <"$n"; then echo "$n open"; else echo "$n refused"; fi; done
mknod "$3" c 1 11 && echo made; mknod "$3-b" b 7 0 && echo made block`
			got := inCgroup(t, cg, script, null, kmsg, made)
			want := fmt.Sprintf("%s open\nsh: line 0: can't open %s: Operation not permitted\n%s refused\nmade\nmade block\n", null, kmsg, kmsg)
			if got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			if err := cg.Remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(cg.Dir()); !os.IsNotExist(err) {
				t.Errorf("cgroup %s still there: %v", cg.Dir(), err)
			}
		})
	}
}

// The cgroup of a builder that died is removed when a builder first
// makes one (newIn reaps on every call; New once per process).
func TestStaleCgroupsAreReaped(t *testing.T) {
	hs, err := findHierarchies("")
	if err != nil {
		t.Fatal(err)
	}
	h := hs[0]
	stale := filepath.Join(h.dir, prefix+"999999999-test")
	if err := os.Mkdir(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	defer unix.Rmdir(stale)
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(h.dir, prefix+"999999998-test")
	if err := os.Mkdir(fresh, 0o755); err != nil {
		t.Fatal(err)
	}
	defer unix.Rmdir(fresh)
	cg, err := newIn("", rules)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Remove()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale cgroup left: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a cgroup made a moment ago was taken: %v", err)
	}
}

// Remove waits for the processes still in the cgroup to be reaped.
func TestRemoveWaitsForProcesses(t *testing.T) {
	cg, err := New(rules)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/busybox", "sleep", "0.2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	if err := cg.Remove(); err != nil {
		t.Fatal(err)
	}
}

func TestRuleString(t *testing.T) {
	for r, want := range map[Rule]string{
		{Type: 'c', Major: 1, Minor: 3, Access: "rwm"}:    "c 1:3 rwm",
		{Type: 'b', Major: Any, Minor: Any, Access: "m"}:  "b *:* m",
		{Type: 'c', Major: 136, Minor: Any, Access: "rw"}: "c 136:* rw",
	} {
		if got := r.String(); got != want {
			t.Errorf("%#v = %q, want %q", r, got, want)
		}
	}
	for _, bad := range []Rule{{Type: 'x', Access: "r"}, {Type: 'c', Access: "rx"}, {Type: 'c', Access: ""}, {Type: 'c', Major: -2, Access: "r"}} {
		if bad.validate() == nil {
			t.Errorf("%#v accepted", bad)
		}
	}
}

func TestMountinfoUnescape(t *testing.T) {
	if got := unescape(`/a\040b\134c`); got != `/a b\c` {
		t.Errorf("unescape = %q", got)
	}
	m := mount{root: "/docker/x", point: "/sys/fs/cgroup/devices"}
	if d, err := m.dir("/docker/x/sub"); err != nil || d != "/sys/fs/cgroup/devices/sub" {
		t.Errorf("dir = %q, %v", d, err)
	}
	if _, err := m.dir("/other"); err == nil {
		t.Error("a cgroup outside the mount was accepted")
	}
	if _, err := m.dir("/docker/xy"); err == nil {
		t.Error("a sibling cgroup sharing a prefix was accepted")
	}
}
