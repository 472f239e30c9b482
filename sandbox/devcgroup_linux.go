package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mybuild/mybuild/internal/userns"
	"github.com/mybuild/mybuild/sandbox/devcgroup"
	"golang.org/x/sys/unix"
)

// allowedDevices are what a sandboxed process may do to device nodes:
// make any (debootstrap and the like make the nodes of a root they build),
// but open only those of the sandbox's own /dev: null, zero, full, random,
// urandom, tty, ptmx and the ptys of its devpts.
var allowedDevices = []devcgroup.Rule{
	{Type: 'c', Major: devcgroup.Any, Minor: devcgroup.Any, Access: "m"},
	{Type: 'b', Major: devcgroup.Any, Minor: devcgroup.Any, Access: "m"},
	{Type: 'c', Major: 1, Minor: 3, Access: "rwm"},
	{Type: 'c', Major: 1, Minor: 5, Access: "rwm"},
	{Type: 'c', Major: 1, Minor: 7, Access: "rwm"},
	{Type: 'c', Major: 1, Minor: 8, Access: "rwm"},
	{Type: 'c', Major: 1, Minor: 9, Access: "rwm"},
	{Type: 'c', Major: 5, Minor: 0, Access: "rwm"},
	{Type: 'c', Major: 5, Minor: 2, Access: "rwm"},
	{Type: 'c', Major: 136, Minor: devcgroup.Any, Access: "rwm"},
}

// deviceCgroup makes the cgroup that bounds a sandboxed process's device
// access. Where none can be made, the process may still be safe: in a
// user namespace no device node can be made at all, and a container
// runtime's device policy (Docker's and Kubernetes' default) may already
// refuse what the sandbox would. devicesRestricted checks the latter for
// real, in scratch. Then warn says what holds instead, and there is no
// cgroup; otherwise (a privileged container, a host with a read-only
// cgroup filesystem) it is an error, since a step could make and open any
// device.
func deviceCgroup(scratch string, warn func(string)) (*devcgroup.Cgroup, error) {
	if userns.Inside() {
		// By design: in a user namespace no device node can be made, and
		// /dev holds binds of the host's harmless ones only.
		return nil, nil
	}
	cg, err := devcgroup.New(allowedDevices)
	if err == nil {
		return cg, nil
	}
	restricted, perr := devicesRestricted(scratch)
	if restricted {
		warn(fmt.Sprintf("RUN steps are not in a device cgroup (%v); the device policy mybuild runs under refuses the devices they must not open", err))
		return nil, nil
	}
	if perr != nil {
		err = fmt.Errorf("%w; and %w", err, perr)
	}
	return nil, fmt.Errorf("sandbox: confine devices: %w (mybuild needs a writable cgroup v1 devices hierarchy or cgroup v2, or to run under a device policy such as a container's)", err)
}

// devicesRestricted tells whether the device policy this process runs
// under (a container's device cgroup) already refuses what the sandbox
// refuses: it makes a kernel-log node (c 1:11) and a loop device node (b
// 7:0) in dir and tries to open them. Only EPERM, the device cgroup's
// answer, counts as refused; a node that opens, or one whose driver is
// absent (ENXIO), shows no such policy.
func devicesRestricted(dir string) (bool, error) {
	probe, err := os.MkdirTemp(dir, "devices-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(probe)
	for _, n := range []struct {
		name string
		mode uint32
		dev  uint64
	}{{"kmsg", unix.S_IFCHR, unix.Mkdev(1, 11)}, {"loop", unix.S_IFBLK, unix.Mkdev(7, 0)}} {
		p := filepath.Join(probe, n.name)
		if err := unix.Mknod(p, n.mode|0o600, int(n.dev)); err != nil {
			return false, fmt.Errorf("probe the device policy: mknod: %w", err)
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		if !errors.Is(err, unix.EPERM) {
			return false, nil
		}
	}
	return true, nil
}
