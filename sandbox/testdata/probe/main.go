// Command probe makes, from inside a sandbox, the syscalls that its
// seccomp filter must refuse, and prints what the kernel answered, one
// "name errno" line each, then its effective uid and capability and
// seccomp fields. Built for 386 as well as the host's architecture, it
// tests the filter's i386 table.
package main

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	var cloneArgs [11]uint64 // struct clone_args
	session := unix.KEY_SPEC_SESSION_KEYRING
	calls := []struct {
		name string
		nr   uintptr
		args [3]uintptr
	}{
		{"getpid", unix.SYS_GETPID, [3]uintptr{}},
		// Without the filter: EINVAL, a Go program has several threads.
		{"unshare", unix.SYS_UNSHARE, [3]uintptr{unix.CLONE_NEWUSER}},
		{"clone3", unix.SYS_CLONE3, [3]uintptr{uintptr(unsafe.Pointer(&cloneArgs)), 0}},
		{"keyctl", unix.SYS_KEYCTL, [3]uintptr{unix.KEYCTL_GET_KEYRING_ID, uintptr(session), 0}},
		{"personality", unix.SYS_PERSONALITY, [3]uintptr{0x0040000}}, // ADDR_NO_RANDOMIZE
		{"socket", unix.SYS_SOCKET, [3]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM}},
		{"mount", unix.SYS_MOUNT, [3]uintptr{0, 0, 0}},
	}
	for _, c := range calls {
		_, _, errno := unix.RawSyscall(c.nr, c.args[0], c.args[1], c.args[2])
		fmt.Printf("%s %s\n", c.name, errnoName(errno))
	}
	fmt.Printf("euid %d\n", os.Geteuid())
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for _, l := range strings.Split(string(status), "\n") {
		for _, f := range []string{"CapEff:", "Seccomp:"} {
			if strings.HasPrefix(l, f) {
				fmt.Println(strings.Join(strings.Fields(l), " "))
			}
		}
	}
}

func errnoName(e unix.Errno) string {
	if e == 0 {
		return "0"
	}
	return unix.ErrnoName(e)
}
