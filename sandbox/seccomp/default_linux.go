package seccomp

import (
	"fmt"
	"runtime"

	"github.com/elastic/go-seccomp-bpf/arch"
	profile "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Default compiles Docker's default profile (moby's profiles/seccomp, as
// dockerd and BuildKit use it) for a process whose bounding set holds
// caps (names such as "CAP_CHOWN"): the profile allows more syscalls to a
// process with more capabilities. It covers every syscall ABI the host's
// kernel accepts, since a process may use any of them: a filter for
// x86_64 alone would let `int 0x80` through.
func Default(caps []string) (*Filter, error) {
	abis, err := HostABIs()
	if err != nil {
		return nil, err
	}
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	p, err := profile.GetDefaultProfile(spec)
	if err != nil {
		return nil, fmt.Errorf("seccomp: default profile: %w", err)
	}
	return Compile(p, abis)
}

// HostABIs are the syscall ABIs of the host's kernel, as the Go runtime's
// architecture tells them: a 64-bit kernel runs 32-bit processes too.
// Steps emulated by qemu-user make host syscalls, so these are the only
// ones that count.
func HostABIs() ([]*arch.Info, error) {
	switch runtime.GOARCH {
	case "amd64":
		return []*arch.Info{arch.X86_64, arch.X32, arch.I386}, nil
	case "arm64":
		return []*arch.Info{arch.AARCH64, arch.ARM}, nil
	}
	return nil, fmt.Errorf("seccomp: no syscall tables for %s hosts", runtime.GOARCH)
}
