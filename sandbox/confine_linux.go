package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/mybuild/mybuild/sandbox/seccomp"
	"github.com/mybuild/mybuild/users"
	"golang.org/x/sys/unix"
)

// Paths of /proc and /sys a sandboxed process must not read or write:
// runc's and containerd's defaults.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readOnlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// stepFilter is the seccomp filter of sandboxed processes, compiled once
// per builder process (it depends only on the host and on the builder's
// own capabilities, which do not change): each init only loads it.
var stepFilter = sync.OnceValues(func() ([]byte, error) {
	own, err := ownPermitted()
	if err != nil {
		return nil, err
	}
	f, err := seccomp.Default(capList(defaultCaps & own))
	if err != nil {
		return nil, err
	}
	return f.MarshalBinary()
})

// confine switches to the command's user and takes away what the command
// may not have, in runc's order: the seccomp filter first (filter, nil in
// insecure mode), while the init still holds CAP_SYS_ADMIN and so needs
// no no_new_privs (setuid programs keep working); then the bounding set;
// then the user, keeping the permitted set across the change; then the
// remaining capability sets. Everything after the filter is a syscall
// Docker's profile allows.
func confine(sec Security, filter []byte, u users.Exec) error {
	caps, err := capsFor(sec, u.UID)
	if err != nil {
		return err
	}
	if sec == SecuritySandbox {
		if err := seccomp.Load(filter); err != nil {
			return err
		}
	}
	if err := caps.dropBounding(); err != nil {
		return err
	}
	// prctl(PR_SET_KEEPCAPS, 1): this thread keeps its permitted set
	// across setuid; the other threads of the init do not matter.
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl keepcaps: %w", err)
	}
	if err := setCredentials(u); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl keepcaps: %w", err)
	}
	return caps.apply()
}

// maskPaths hides maskedPaths and makes readOnlyPaths read-only under
// root, whose /proc, /sys and /dev are mounted. Paths this kernel lacks
// are skipped.
func maskPaths(root string) error {
	for _, p := range maskedPaths {
		if err := maskPath(root, p); err != nil {
			return err
		}
	}
	for _, p := range readOnlyPaths {
		target := filepath.Join(root, p)
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			continue
		}
		// mount --bind $p $p; mount -o remount,bind,ro,nosuid,nodev,noexec $p
		if err := mount(target, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		if err := mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return err
		}
	}
	return nil
}

// maskPath hides p: a directory under an empty read-only tmpfs, a file
// under /dev/null.
//
//	mount -t tmpfs -o ro tmpfs $p, or mount --bind /dev/null $p
func maskPath(root, p string) error {
	target := filepath.Join(root, p)
	fi, err := os.Lstat(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return mount("tmpfs", target, "tmpfs", unix.MS_RDONLY, "size=0")
	}
	return mount(filepath.Join(root, "dev/null"), target, "", unix.MS_BIND, "")
}
