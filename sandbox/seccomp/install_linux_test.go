package seccomp

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const childEnv = "MYBUILD_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child installs the default filter, then reports what a few syscalls
// return, one "name errno" line each.
func child() int {
	f, err := Default(dockerCaps)
	if err == nil {
		err = f.Install()
	}
	if err != nil {
		fmt.Println("install:", err)
		return 1
	}
	var args [11]uint64 // struct clone_args
	calls := []struct {
		name string
		nr   uintptr
		a    [3]uintptr
	}{
		{"getpid", unix.SYS_GETPID, [3]uintptr{}},
		{"unshare", unix.SYS_UNSHARE, [3]uintptr{unix.CLONE_NEWUSER}},
		{"clone3", unix.SYS_CLONE3, [3]uintptr{uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args)}},
		{"personality", unix.SYS_PERSONALITY, [3]uintptr{5}},
		{"keyctl", unix.SYS_KEYCTL, [3]uintptr{}},
		{"socket", unix.SYS_SOCKET, [3]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM}},
	}
	for _, c := range calls {
		_, _, errno := unix.RawSyscall(c.nr, c.a[0], c.a[1], c.a[2])
		fmt.Printf("%s %d\n", c.name, errno)
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Seccomp") {
			fmt.Println(strings.Join(strings.Fields(l), " "))
		}
	}
	return 0
}

// The filter, loaded by the kernel, refuses what the profile refuses, in
// every thread of the process.
func TestInstall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: a filter without no_new_privs needs CAP_SYS_ADMIN")
	}
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := fmt.Sprintf("getpid 0\nunshare %d\nclone3 %d\npersonality %d\nkeyctl %d\nsocket %d\nSeccomp: 2\nSeccomp_filters: 1\n",
		unix.EPERM, unix.ENOSYS, unix.EPERM, unix.EPERM, unix.EPERM)
	if string(out) != want {
		t.Errorf("child reported:\n%s\nwant:\n%s", out, want)
	}
}
