//go:build 386 || arm

package sandbox

import "golang.org/x/sys/unix"

// The syscalls that set a thread's groups and ids, of 32-bit ids: on
// these architectures the ones without the suffix take 16-bit ids.
const (
	sysSetgroups = unix.SYS_SETGROUPS32
	sysSetresgid = unix.SYS_SETRESGID32
	sysSetresuid = unix.SYS_SETRESUID32
)
