package seccomp

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads the filter into every thread of the calling process and
// into all it execs (see Load).
func (f *Filter) Install() error {
	prog, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	return Load(prog)
}

// Load installs a program made by MarshalBinary in every thread of the
// calling process (SECCOMP_FILTER_FLAG_TSYNC: the Go runtime has several),
// and so in all it execs. It sets no no_new_privs: the caller must hold
// CAP_SYS_ADMIN, and setuid programs then keep working under the filter,
// as in Docker.
//
//	seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog)
func Load(prog []byte) error {
	n := len(prog) / 8
	if n == 0 || len(prog)%8 != 0 || n > unix.BPF_MAXINSNS {
		return fmt.Errorf("seccomp: a program of %d bytes is not one", len(prog))
	}
	filter := make([]unix.SockFilter, n)
	for i := range filter {
		b := prog[8*i:]
		filter[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	fprog := unix.SockFprog{Len: uint16(n), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	switch {
	case errno != 0:
		return fmt.Errorf("seccomp: load filter: %w", errno)
	case r != 0:
		return fmt.Errorf("seccomp: load filter: thread %d could not take it", r)
	}
	return nil
}
