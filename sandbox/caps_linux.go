package sandbox

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// capNames are the kernel's capabilities, by number, as seccomp profiles
// and runtime specs name them.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// defaultCaps is Docker's default capability set, which BuildKit, Buildah
// and docker build give a RUN step: 0xa80425fb.
const defaultCaps = 1<<unix.CAP_CHOWN | 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_FOWNER |
	1<<unix.CAP_FSETID | 1<<unix.CAP_KILL | 1<<unix.CAP_SETGID | 1<<unix.CAP_SETUID |
	1<<unix.CAP_SETPCAP | 1<<unix.CAP_NET_BIND_SERVICE | 1<<unix.CAP_NET_RAW |
	1<<unix.CAP_SYS_CHROOT | 1<<unix.CAP_MKNOD | 1<<unix.CAP_AUDIT_WRITE | 1<<unix.CAP_SETFCAP

// capSets are the capability sets the command gets, as bit masks.
type capSets struct {
	bounding, effective, permitted, inheritable, ambient uint64
}

// capsFor is what a command running as uid gets, never more than the
// init itself holds (a builder in a container may lack some).
//
// In the sandbox: Docker's default set, effective and permitted for root;
// only the bounding set for any other user, so that it has none until it
// runs a setuid or file-capability program (as in Docker), and nothing
// inheritable or ambient (CVE-2022-24769). Insecure: everything in every
// set, ambient too, as BuildKit's insecure mode.
func capsFor(sec Security, uid uint32) (capSets, error) {
	own, err := ownPermitted()
	if err != nil {
		return capSets{}, err
	}
	if sec == SecurityInsecure {
		return capSets{own, own, own, own, own}, nil
	}
	c := capSets{bounding: defaultCaps & own}
	if uid == 0 {
		c.effective, c.permitted = c.bounding, c.bounding
	}
	return c, nil
}

// capList names the capabilities of mask.
func capList(mask uint64) []string {
	var out []string
	for i, n := range capNames {
		if mask&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// ownPermitted is the init's permitted set.
func ownPermitted() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted), nil
}

// dropBounding removes from the bounding set every capability not in c's.
//
//	prctl(PR_CAPBSET_DROP, cap) for each
func (c capSets) dropBounding() error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	for i := 0; i <= last; i++ {
		if c.bounding&(1<<i) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d from the bounding set: %w", i, err)
		}
	}
	return nil
}

// apply sets the effective, permitted and inheritable sets of this
// thread, which will exec the command, and then its ambient set.
func (c capSets) apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(c.effective), Permitted: uint32(c.permitted), Inheritable: uint32(c.inheritable)},
		{Effective: uint32(c.effective >> 32), Permitted: uint32(c.permitted >> 32), Inheritable: uint32(c.inheritable >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		if errors.Is(err, unix.EINVAL) && c.ambient == 0 {
			return nil // a kernel before 4.3 has no ambient set
		}
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for a := c.ambient; a != 0; a &= a - 1 {
		i := bits.TrailingZeros64(a)
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(i), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %d: %w", i, err)
		}
	}
	return nil
}

// lastCap is the highest capability the kernel knows.
func lastCap() (int, error) {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || n < 0 || n > 63 {
		return 0, fmt.Errorf("cap_last_cap: bad value %q", data)
	}
	return n, nil
}
