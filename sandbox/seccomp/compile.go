package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"

	gsb "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data.
const (
	offNR   = 0
	offArch = 4
)

// retENOSYS is the answer to a syscall the filter cannot judge: one newer
// than its tables (runc does the same, so that a C library falls back to
// an older call instead of failing with EPERM), or one of an ABI it does
// not know.
var retENOSYS = bpf.RetConstant{Val: uint32(gsb.ActionErrno) | uint32(unix.ENOSYS)}

// Filter is a compiled seccomp program.
type Filter struct {
	insts []bpf.Instruction
}

// MarshalBinary is the program as the kernel takes it: struct sock_filter
// entries (u16 code, u8 jt, u8 jf, u32 k), in the host's byte order. It
// lets a parent compile a filter once and each child only load it (see
// Load).
func (f *Filter) MarshalBinary() ([]byte, error) {
	raw, err := bpf.Assemble(f.insts)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble: %w", err)
	}
	out := make([]byte, 0, 8*len(raw))
	for _, r := range raw {
		out = binary.NativeEndian.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = binary.NativeEndian.AppendUint32(out, r.K)
	}
	return out, nil
}

// Compile assembles a runtime-spec profile into one filter for the given
// ABIs. The program dispatches on the audit arch, then, for ABIs sharing
// one (x86_64 and x32), on the syscall number's ABI bit; each ABI's section
// looks the number up in that ABI's table. Syscalls a profile names that
// an ABI lacks are left out of its section, as libseccomp does.
//
// go-seccomp-bpf assembles each rule, with its 64-bit argument checks,
// and resolves the jumps; the layout around them is this function's. Its
// own Policy covers only the native ABI (it gives every syscall of
// another one the default action, and refuses x32 wholesale), and a
// failed argument check there leaves the argument in the accumulator for
// the next syscall compare: personality(5) then matches the allowed
// fstat (5 on x86_64). Here each rule with argument checks is assembled
// alone, and the syscall number is loaded again after it.
func Compile(p *specs.LinuxSeccomp, abis []*arch.Info) (*Filter, error) {
	rs, err := rules(p)
	if err != nil {
		return nil, err
	}
	def, err := toAction(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: default action: %w", err)
	}
	var sections [][]bpf.Instruction
	var ids []uint32
	for _, group := range byAuditArch(abis) {
		s, err := section(rs, def, group)
		if err != nil {
			return nil, err
		}
		sections = append(sections, s)
		ids = append(ids, uint32(group[0].ID))
	}
	// ld [arch]; for each arch: jne id, +1; ja section; then ret ENOSYS
	prog := []bpf.Instruction{bpf.LoadAbsolute{Off: offArch, Size: 4}}
	next := 1 + 2*len(ids) + 1 // where the first section starts
	for i, id := range ids {
		here := len(prog) + 2 // the instruction after the ja
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: id, SkipTrue: 1}, bpf.Jump{Skip: uint32(next - here)})
		next += len(sections[i])
	}
	prog = append(prog, retENOSYS)
	for _, s := range sections {
		prog = append(prog, s...)
	}
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: the filter has %d instructions, more than the kernel's %d", len(prog), unix.BPF_MAXINSNS)
	}
	return &Filter{insts: prog}, nil
}

// byAuditArch groups ABIs that share an audit arch, the ones whose
// syscall numbers carry a bit first.
func byAuditArch(abis []*arch.Info) [][]*arch.Info {
	var groups [][]*arch.Info
	for _, a := range abis {
		i := slices.IndexFunc(groups, func(g []*arch.Info) bool { return g[0].ID == a.ID })
		if i < 0 {
			groups = append(groups, []*arch.Info{a})
			continue
		}
		groups[i] = append(groups[i], a)
	}
	for _, g := range groups {
		slices.SortStableFunc(g, func(a, b *arch.Info) int { return b.SeccompMask - a.SeccompMask })
	}
	return groups
}

// section is the code for one audit arch: load the syscall number, jump
// to the body of the ABI whose bit it carries, else run the plain ABI's.
//
//	ld [nr]; jge 0x40000000, +0, +1; ja x32; <x86_64 body>; <x32 body>
func section(rs []rule, def gsb.Action, group []*arch.Info) ([]bpf.Instruction, error) {
	var masked, plain [][]bpf.Instruction
	var masks []uint32
	for _, a := range group {
		b, err := body(rs, def, a)
		if err != nil {
			return nil, err
		}
		if a.SeccompMask != 0 {
			masked = append(masked, b)
			masks = append(masks, uint32(a.SeccompMask))
		} else {
			plain = append(plain, b)
		}
	}
	if len(plain) > 1 {
		return nil, fmt.Errorf("seccomp: %d ABIs share audit arch %s", len(plain), group[0].Name)
	}
	if len(plain) == 0 {
		plain = append(plain, []bpf.Instruction{retENOSYS})
	}
	out := []bpf.Instruction{bpf.LoadAbsolute{Off: offNR, Size: 4}}
	next := 1 + 2*len(masked) + len(plain[0]) // where the first masked body starts
	for i, m := range masks {
		here := len(out) + 2
		out = append(out, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: m, SkipFalse: 1}, bpf.Jump{Skip: uint32(next - here)})
		next += len(masked[i])
	}
	out = append(out, plain[0]...)
	for _, b := range masked {
		out = append(out, b...)
	}
	return out, nil
}

// body is one ABI's rules, entered with the syscall number loaded: a
// binary search over the runs of numbers that share a fate, down to a
// return, or to the argument checks of one syscall. A search takes about
// ten steps, against hundreds for a list of compares, which makes the
// program small and quick for the kernel to load and to run. A number the
// ABI's table lacks gets the default within the kernel's common numbering,
// and ENOSYS above it (see newestCommon). A name with several numbers in
// the table (x32 lists execve as 59 and 520) gets its rule at each; the
// kernel refuses the ones that are not the ABI's.
func body(rs []rule, def gsb.Action, a *arch.Info) ([]bpf.Instruction, error) {
	byName := make(map[string]*rule, len(rs))
	for i := range rs {
		byName[rs[i].name] = &rs[i]
	}
	nrs := mapKeys(a.SyscallNumbers)
	slices.Sort(nrs)
	newest := newestCommon(a, nrs)
	mask := uint32(a.SeccompMask)
	enosys := gsb.Action(retENOSYS.Val)
	var runs []run
	next := 0
	for _, nr := range nrs {
		if nr > next { // numbers the table lacks
			gap := def
			if next > newest {
				gap = enosys
			}
			runs = extend(runs, uint32(next)|mask, gap)
		}
		next = nr + 1
		r := byName[kernelName(a, a.SyscallNumbers[nr])]
		switch {
		case r == nil:
			runs = extend(runs, uint32(nr)|mask, def)
		case r.conds != nil:
			runs = append(runs, run{lo: uint32(nr) | mask, action: r.action, checked: r})
		default:
			runs = extend(runs, uint32(nr)|mask, r.action)
		}
	}
	runs = extend(runs, uint32(next)|mask, enosys)
	return search(runs, def)
}

// privateStart is where an ABI's own syscalls start, apart from the
// numbering all ABIs share: x32's compat calls, ARM's private ones.
var privateStart = map[string]int{"x32": 512, "arm": 0xf0000}

// newestCommon is the highest number of the ABI's table in the numbering
// the kernel shares between ABIs, where new syscalls are added: a number
// above it the table lacks is newer than the table, and gets ENOSYS, as
// runc gives it, so that a C library falls back to an older call rather
// than fail with EPERM.
func newestCommon(a *arch.Info, sorted []int) int {
	limit, ok := privateStart[a.Name]
	if !ok {
		return sorted[len(sorted)-1]
	}
	i, _ := slices.BinarySearch(sorted, limit)
	return sorted[i-1]
}

// kernelNames are the kernel's names of the syscalls that go-seccomp-bpf's
// tables name otherwise, as the profile names them.
var kernelNames = map[string]map[string]string{
	"aarch64": {"fstatat": "newfstatat"},
}

// kernelName is the kernel's name of a syscall of ABI a's table.
func kernelName(a *arch.Info, name string) string {
	if k, ok := kernelNames[a.Name][name]; ok {
		return k
	}
	return name
}

// run is numbers from lo up to the next run's lo that share an action, or
// one number whose action depends on its arguments (checked).
type run struct {
	lo      uint32
	action  gsb.Action
	checked *rule
}

// extend adds number nr, with action, to the last run when it has the
// same, or else starts a run.
func extend(runs []run, nr uint32, action gsb.Action) []run {
	if n := len(runs); n > 0 && runs[n-1].checked == nil && runs[n-1].action == action {
		return runs
	}
	return append(runs, run{lo: nr, action: action})
}

// search is the binary search over runs:
//
//	jge lo(mid), <right half>; <left half>; <right half>
//
// with a long jump (jge +0, +1; ja) where the left half is too long for a
// conditional one. The leaves are assembled first, and the lengths of
// the halves worked out from them, so that the code is written once, in
// place.
func search(runs []run, def gsb.Action) ([]bpf.Instruction, error) {
	leaves := make([][]bpf.Instruction, len(runs))
	for i, r := range runs {
		var err error
		if leaves[i], err = leaf(r, def); err != nil {
			return nil, err
		}
	}
	t := searchTree{runs: runs, leaves: leaves, lens: map[[2]int]int{}}
	t.out = make([]bpf.Instruction, 0, t.len(0, len(runs)))
	t.write(0, len(runs))
	return t.out, nil
}

// searchTree writes search's code for runs[lo:hi], halves first.
type searchTree struct {
	runs   []run
	leaves [][]bpf.Instruction
	lens   map[[2]int]int // code length by lo, hi
	out    []bpf.Instruction
}

// len is the length of the code for runs[lo:hi].
func (t *searchTree) len(lo, hi int) int {
	if hi-lo == 1 {
		return len(t.leaves[lo])
	}
	if n, ok := t.lens[[2]int{lo, hi}]; ok {
		return n
	}
	mid := lo + (hi-lo)/2
	left := t.len(lo, mid)
	n := jumpLen(left) + left + t.len(mid, hi)
	t.lens[[2]int{lo, hi}] = n
	return n
}

// jumpLen is how many instructions jump over a left half of n.
func jumpLen(n int) int {
	if n <= 255 {
		return 1
	}
	return 2
}

func (t *searchTree) write(lo, hi int) {
	if hi-lo == 1 {
		t.out = append(t.out, t.leaves[lo]...)
		return
	}
	mid := lo + (hi-lo)/2
	left := t.len(lo, mid)
	if jumpLen(left) == 1 {
		t.out = append(t.out, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: t.runs[mid].lo, SkipTrue: uint8(left)})
	} else {
		t.out = append(t.out, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: t.runs[mid].lo, SkipFalse: 1}, bpf.Jump{Skip: uint32(left)})
	}
	t.write(lo, mid)
	t.write(mid, hi)
}

// leaf returns a run's action; for a run with argument checks, the checks
// (assembled by go-seccomp-bpf), which return the action when they hold,
// and then the default.
func leaf(r run, def gsb.Action) ([]bpf.Instruction, error) {
	if r.checked == nil {
		return []bpf.Instruction{bpf.RetConstant{Val: uint32(r.action)}}, nil
	}
	g, err := assemble([]gsb.SyscallWithConditions{{Num: r.lo, Conditions: r.checked.conds}}, r.action)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %s: %w", r.checked.name, err)
	}
	return append(g, bpf.RetConstant{Val: uint32(def)}), nil
}

// assemble is one group of syscalls that share an action: a match returns
// it, anything else falls through to the instruction after the group.
func assemble(calls []gsb.SyscallWithConditions, action gsb.Action) ([]bpf.Instruction, error) {
	p := gsb.NewProgram()
	match, next := p.NewLabel(), p.NewLabel()
	for i, c := range calls {
		c.Assemble(&p, i < len(calls)-1, match, next)
	}
	p.SetLabel(match)
	p.Ret(action)
	p.SetLabel(next)
	return p.Assemble()
}

func mapKeys(m map[int]string) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
