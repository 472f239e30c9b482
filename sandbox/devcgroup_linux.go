package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strings"

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
// access. Where none can be made, the process may still be safe: in a user
// namespace no device node can be made at all, and in a container (a
// read-only cgroup filesystem says so too) the container's own device
// cgroup holds. Then warn says so and there is no cgroup; anywhere else
// it is an error, since a step could make and open any device.
func deviceCgroup(warn func(string)) (*devcgroup.Cgroup, error) {
	cg, err := devcgroup.New(allowedDevices)
	if err == nil {
		return cg, nil
	}
	switch {
	case inUserNamespace():
		warn(fmt.Sprintf("RUN steps are not in a device cgroup (%v); in a user namespace they cannot make device nodes", err))
		return nil, nil
	case errors.Is(err, unix.EROFS) || inContainer():
		warn(fmt.Sprintf("RUN steps are not in a device cgroup (%v); the device policy of the container mybuild runs in applies", err))
		return nil, nil
	}
	return nil, fmt.Errorf("sandbox: confine devices: %w (mybuild needs a writable cgroup v1 devices hierarchy or cgroup v2)", err)
}

// inUserNamespace tells whether this process is in a user namespace other
// than the host's, whose uid map is the whole range.
func inUserNamespace() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	return strings.Join(strings.Fields(string(data)), " ") != "0 0 4294967295"
}

// inContainer tells whether this process runs in a Docker or Podman
// container, which mark their root.
func inContainer() bool {
	for _, marker := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(marker); err == nil {
			return true
		}
	}
	return false
}
