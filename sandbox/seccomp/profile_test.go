package seccomp

import (
	"testing"

	profile "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func defaultProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: dockerCaps}}}
	p, err := profile.GetDefaultProfile(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
