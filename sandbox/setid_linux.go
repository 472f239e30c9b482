//go:build !386 && !arm

package sandbox

import "golang.org/x/sys/unix"

// The syscalls that set a thread's groups and ids, of 32-bit ids.
const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetresgid = unix.SYS_SETRESGID
	sysSetresuid = unix.SYS_SETRESUID
)
