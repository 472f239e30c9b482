package build

import (
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/sandbox"
)

// Entitlement is a privilege a build is granted only when asked for, as
// with BuildKit's --allow.
type Entitlement string

const (
	// EntitlementSecurityInsecure lets RUN --security=insecure steps run,
	// with every capability and no seccomp filter.
	EntitlementSecurityInsecure Entitlement = "security.insecure"
	// EntitlementNetworkHost is BuildKit's grant for RUN --network=host.
	// mybuild runs steps in the host's network by default, so it grants
	// nothing more; it is accepted so that buildx command lines work.
	EntitlementNetworkHost Entitlement = "network.host"
)

// ParseEntitlement parses an --allow value.
func ParseEntitlement(s string) (Entitlement, error) {
	switch e := Entitlement(s); e {
	case EntitlementSecurityInsecure, EntitlementNetworkHost:
		return e, nil
	}
	return "", fmt.Errorf("unknown entitlement %q (want security.insecure or network.host)", s)
}

// errInsecureNotAllowed is the error for an insecure step in a build not
// granted security.insecure.
var errInsecureNotAllowed = fmt.Errorf("--security=insecure needs the %s entitlement: run mybuild with --allow %[1]s", EntitlementSecurityInsecure)

// runSecurity is the security mode of a RUN step, refused when it is
// insecure and the build is not granted that.
func (b *builder) runSecurity(c *instructions.RunCommand) (sandbox.Security, error) {
	sec, err := sandbox.ParseSecurity(instructions.GetSecurity(c))
	if err != nil {
		return "", err
	}
	if sec == sandbox.SecurityInsecure && !b.allowed(EntitlementSecurityInsecure) {
		return "", errInsecureNotAllowed
	}
	return sec, nil
}

func (b *builder) allowed(e Entitlement) bool {
	for _, a := range b.opts.Allow {
		if a == e {
			return true
		}
	}
	return false
}

// warnOnce passes msg on to the reporter the first time it comes: every
// step of a build would say the same.
func (b *builder) warnOnce(msg string) {
	b.mu.Lock()
	seen := b.warned[msg]
	if b.warned == nil {
		b.warned = map[string]bool{}
	}
	b.warned[msg] = true
	b.mu.Unlock()
	if !seen {
		b.rep.Warning(msg)
	}
}
