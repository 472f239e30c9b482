package seccomp

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	gsb "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// dockerCaps is Docker's default capability set.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
}

const (
	allow  = uint32(gsb.ActionAllow)
	eperm  = uint32(gsb.ActionErrno) | uint32(unix.EPERM)
	enosys = uint32(gsb.ActionErrno) | uint32(unix.ENOSYS)
)

// vm runs a filter on seccomp_data as the kernel would. x/net/bpf loads
// words big-endian, so each word is stored that way, at the offset the
// host's byte order gives it (an argument's low half first on little-endian
// hosts, as go-seccomp-bpf reads it).
type vm struct {
	t  *testing.T
	vm *bpf.VM
}

func newVM(t *testing.T, f *Filter) *vm {
	t.Helper()
	m, err := bpf.NewVM(f.insts)
	if err != nil {
		t.Fatal(err)
	}
	return &vm{t, m}
}

func (m *vm) run(auditArch, nr uint32, args ...uint64) uint32 {
	m.t.Helper()
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[offNR:], nr)
	binary.BigEndian.PutUint32(b[offArch:], auditArch)
	lo, hi := 0, 4
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		lo, hi = 4, 0
	}
	for i, a := range args {
		off := 16 + 8*i
		binary.BigEndian.PutUint32(b[off+lo:], uint32(a))
		binary.BigEndian.PutUint32(b[off+hi:], uint32(a>>32))
	}
	r, err := m.vm.Run(b)
	if err != nil {
		m.t.Fatal(err)
	}
	return uint32(r)
}

// call runs the syscall name of ABI a.
func (m *vm) call(a *arch.Info, name string, args ...uint64) uint32 {
	m.t.Helper()
	nr, ok := a.SyscallNames[name]
	if !ok {
		m.t.Fatalf("%s has no syscall %s", a.Name, name)
	}
	return m.run(uint32(a.ID), uint32(nr|a.SeccompMask), args...)
}

func defaultFilter(t *testing.T) *Filter {
	t.Helper()
	f, err := Default(dockerCaps)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDefaultRefusesWhatDockerRefuses(t *testing.T) {
	f := defaultFilter(t)
	m := newVM(t, f)
	abis, err := HostABIs()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d instructions", len(f.insts))
	const vsock = 40
	for _, a := range abis {
		cases := []struct {
			name string
			args []uint64
			want uint32
		}{
			{"read", nil, allow},
			{"execve", nil, allow},
			{"ptrace", nil, allow},
			{"chroot", nil, allow},
			{"clone", []uint64{uint64(unix.SIGCHLD)}, allow},
			{"clone", []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, eperm},
			{"clone", []uint64{unix.CLONE_NEWNS}, eperm},
			{"clone3", nil, enosys},
			{"personality", []uint64{0}, allow},
			{"personality", []uint64{0xffffffff}, allow},
			{"personality", []uint64{0x0040000 /* ADDR_NO_RANDOMIZE */}, eperm},
			{"mount", nil, eperm},
			{"umount2", nil, eperm},
			{"unshare", nil, eperm},
			{"setns", nil, eperm},
			{"keyctl", nil, eperm},
			{"add_key", nil, eperm},
			{"bpf", nil, eperm},
			{"kexec_load", nil, eperm},
			{"init_module", nil, eperm},
			{"finit_module", nil, eperm},
			{"delete_module", nil, eperm},
			{"clock_settime", nil, eperm},
			{"settimeofday", nil, eperm},
			{"reboot", nil, eperm},
			{"swapon", nil, eperm},
			{"open_by_handle_at", nil, eperm},
			{"perf_event_open", nil, eperm},
			{"syslog", nil, eperm},
			{"socket", []uint64{unix.AF_INET}, allow},
			{"socket", []uint64{unix.AF_UNIX}, allow},
			{"socket", []uint64{vsock}, eperm},
		}
		for _, c := range cases {
			if _, ok := a.SyscallNames[c.name]; !ok && (a == arch.ARM || a == arch.AARCH64) {
				continue // not every name exists everywhere
			}
			if got := m.call(a, c.name, c.args...); got != c.want {
				t.Errorf("%s: %s%v = %#x, want %#x", a.Name, c.name, c.args, got, c.want)
			}
		}
	}
}

// A failed argument check must not leave the argument where the next
// syscall compare reads the number: personality(N) and socket(N) would
// then pass as whatever syscall N is (fstat, sendfile on x86_64).
func TestArgumentChecksDoNotLeakIntoTheNextCompare(t *testing.T) {
	m := newVM(t, defaultFilter(t))
	rs, err := rules(defaultProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	abis, _ := HostABIs()
	for _, a := range abis {
		for nr, name := range a.SyscallNumbers {
			arg := uint64(nr | a.SeccompMask)
			if m.run(uint32(a.ID), uint32(arg)) != allow {
				continue
			}
			for _, r := range rs {
				if r.conds == nil {
					continue
				}
				if _, ok := a.SyscallNames[r.name]; !ok {
					continue
				}
				want := eperm
				if matches(r.conds, arg) {
					want = uint32(r.action)
				}
				if got := m.call(a, r.name, arg); got != want {
					t.Errorf("%s: %s(%d) = %#x, want %#x (%d is %s)", a.Name, r.name, arg, got, want, arg, name)
				}
			}
		}
	}
}

// matches evaluates condition sets on a call whose first argument is v
// and whose others are 0, as the kernel would.
func matches(sets []gsb.ArgumentConditions, v uint64) bool {
	for _, set := range sets {
		ok := true
		for _, c := range set {
			arg := uint64(0)
			if c.Argument == 0 {
				arg = v
			}
			switch c.Operation {
			case gsb.Equal:
				ok = ok && arg == c.Value
			case gsb.NotEqual:
				ok = ok && arg != c.Value
			case gsb.LessThan:
				ok = ok && arg < c.Value
			case gsb.LessOrEqual:
				ok = ok && arg <= c.Value
			case gsb.GreaterThan:
				ok = ok && arg > c.Value
			case gsb.GreaterOrEqual:
				ok = ok && arg >= c.Value
			case gsb.BitsNotSet:
				ok = ok && arg&c.Value == 0
			case gsb.BitsSet:
				ok = ok && arg&c.Value != 0
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Every syscall of every ABI gets what the profile says, whatever its
// place in the program: long jumps and early returns included.
func TestEverySyscallGetsItsRule(t *testing.T) {
	abis, _ := HostABIs()
	f := defaultFilter(t)
	m := newVM(t, f)
	p := defaultProfile(t)
	rs, err := rules(p)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]rule{}
	for _, r := range rs {
		byName[r.name] = r
	}
	for _, a := range abis {
		highest := 0
		for nr, name := range a.SyscallNumbers {
			highest = max(highest, nr)
			r, ok := byName[name]
			if ok && r.conds != nil {
				continue // checked with arguments above
			}
			want := eperm
			if ok {
				want = uint32(r.action)
			}
			if got := m.run(uint32(a.ID), uint32(nr|a.SeccompMask)); got != want {
				t.Errorf("%s: %s (%d) = %#x, want %#x", a.Name, name, nr, got, want)
			}
		}
		if got := m.run(uint32(a.ID), uint32((highest+1)|a.SeccompMask)); got != enosys {
			t.Errorf("%s: syscall %d, newer than the table, = %#x, want ENOSYS", a.Name, highest+1, got)
		}
	}
	if got := m.run(0x1234, 0); got != enosys {
		t.Errorf("unknown audit arch = %#x, want ENOSYS", got)
	}
}

// The profile compiles for the ABIs of the other supported hosts too.
func TestCompilesForEveryHost(t *testing.T) {
	p := defaultProfile(t)
	for _, abis := range [][]*arch.Info{{arch.X86_64, arch.X32, arch.I386}, {arch.AARCH64, arch.ARM}} {
		f, err := Compile(p, abis)
		if err != nil {
			t.Fatalf("%s: %v", abis[0].Name, err)
		}
		m := newVM(t, f)
		for _, a := range abis {
			if got := m.call(a, "mount"); got != eperm {
				t.Errorf("%s: mount = %#x", a.Name, got)
			}
			if got := m.call(a, "read"); got != allow {
				t.Errorf("%s: read = %#x", a.Name, got)
			}
		}
	}
}

func TestHostABIs(t *testing.T) {
	abis, err := HostABIs()
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		if err == nil {
			t.Fatal("no error for a host without tables")
		}
		return
	}
	if err != nil || len(abis) < 2 {
		t.Fatalf("HostABIs = %v, %v", abis, err)
	}
}

// A profile whose runs alternate at every number makes search halves too
// long for conditional jumps: the long jumps must land right too.
func TestLongJumps(t *testing.T) {
	a := arch.X86_64
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	allowed := map[int]bool{}
	for nr, name := range a.SyscallNumbers {
		if nr%2 == 0 {
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow})
			allowed[nr] = true
		}
	}
	f, err := Compile(p, []*arch.Info{a})
	if err != nil {
		t.Fatal(err)
	}
	long := false
	for _, in := range f.insts {
		if j, ok := in.(bpf.Jump); ok && j.Skip > 255 {
			long = true
		}
	}
	if !long {
		t.Fatalf("no long jump in a program of %d instructions", len(f.insts))
	}
	m := newVM(t, f)
	for nr := range a.SyscallNumbers {
		want := eperm
		if allowed[nr] {
			want = allow
		}
		if got := m.run(uint32(a.ID), uint32(nr)); got != want {
			t.Errorf("%d = %#x, want %#x", nr, got, want)
		}
	}
}

// The calls every C library makes work on each ABI, under the name its
// table gives them (aarch64's newfstatat is fstatat in go-seccomp-bpf's).
func TestEveryABIStats(t *testing.T) {
	p := defaultProfile(t)
	stats := map[*arch.Info][]string{
		arch.X86_64:  {"stat", "fstat", "newfstatat", "statx", "openat", "clone"},
		arch.X32:     {"stat", "fstat", "newfstatat", "statx", "openat"},
		arch.I386:    {"stat64", "fstat64", "fstatat64", "statx", "openat"},
		arch.AARCH64: {"fstatat", "fstat", "statx", "openat"},
		arch.ARM:     {"stat64", "fstat64", "fstatat64", "statx", "openat"},
	}
	for _, abis := range [][]*arch.Info{{arch.X86_64, arch.X32, arch.I386}, {arch.AARCH64, arch.ARM}} {
		f, err := Compile(p, abis)
		if err != nil {
			t.Fatal(err)
		}
		m := newVM(t, f)
		for _, a := range abis {
			for _, name := range stats[a] {
				if got := m.call(a, name); got != allow {
					t.Errorf("%s: %s = %#x, want allowed", a.Name, name, got)
				}
			}
		}
	}
}

// A syscall newer than the tables gets ENOSYS on every ABI, also where
// the table holds an ABI's own calls above the common numbering (x32 from
// 512, ARM's private calls from 0xf0000); an unknown number inside the
// common numbering gets the default.
func TestNewSyscallsGetENOSYS(t *testing.T) {
	p := defaultProfile(t)
	for _, abis := range [][]*arch.Info{{arch.X86_64, arch.X32, arch.I386}, {arch.AARCH64, arch.ARM}} {
		f, err := Compile(p, abis)
		if err != nil {
			t.Fatal(err)
		}
		m := newVM(t, f)
		for _, a := range abis {
			newest := 0
			for nr := range a.SyscallNumbers {
				if limit, ok := privateStart[a.Name]; (!ok || nr < limit) && nr > newest {
					newest = nr
				}
			}
			if got := m.run(uint32(a.ID), uint32((newest+1)|a.SeccompMask)); got != enosys {
				t.Errorf("%s: syscall %d, newer than the table, = %#x, want ENOSYS", a.Name, newest+1, got)
			}
		}
	}
	m := newVM(t, defaultFilter(t))
	if got := m.run(uint32(arch.X86_64.ID), 0x3fffffff); got != enosys {
		t.Errorf("x86_64 0x3fffffff = %#x, want ENOSYS", got)
	}
}

// The profile names the tables lack, by ABI. A change (a newer profile or
// library) shows here: each name must be one the ABI really does not have
// (or one kernelNames maps), else the filter refuses a syscall Docker
// allows.
func TestNamesTheTablesLack(t *testing.T) {
	rs, err := rules(defaultProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, a := range []*arch.Info{arch.X86_64, arch.X32, arch.I386, arch.AARCH64, arch.ARM} {
		have := map[string]bool{}
		for _, name := range a.SyscallNumbers {
			have[kernelName(a, name)] = true
		}
		var missing []string
		for _, r := range rs {
			if r.action == gsb.ActionAllow && !have[r.name] {
				missing = append(missing, r.name)
			}
		}
		slices.Sort(missing)
		fmt.Fprintf(&out, "%s: %s\n", a.Name, strings.Join(missing, " "))
	}
	golden := filepath.Join("testdata", "missing-"+runtime.GOARCH+".txt")
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./sandbox/seccomp -update writes it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("names the tables lack changed:\n%s\nwant:\n%s", out.String(), want)
	}
}
