// Package isolation chooses how a build runs its steps: in namespaces as
// root, rootless in a user namespace, or in place in the container that
// holds the builder, from the facts of the machine.
package isolation

import (
	"fmt"
	"strings"
)

// Mode is how steps are isolated.
type Mode string

const (
	// Auto chooses one of the others from the facts (Choose).
	Auto Mode = "auto"
	// Namespaces runs each step in its own mount, PID, UTS and IPC
	// namespaces on overlayfs, with pivot_root: root on a host, or in a
	// privileged container.
	Namespaces Mode = "namespaces"
	// Rootless does the same inside a user namespace mapped from
	// /etc/subuid and /etc/subgid: a normal user on a host.
	Rootless Mode = "rootless"
	// InPlace builds in the container's own root, as Kaniko does: root in
	// an unprivileged container, where no namespace or mount can be made.
	InPlace Mode = "in-place"
)

// Modes are the values --isolation takes.
var Modes = []Mode{Auto, Namespaces, Rootless, InPlace}

// ParseMode parses a --isolation value.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("unknown isolation mode %q: use one of %s", s, strings.Join(names, ", "))
}
