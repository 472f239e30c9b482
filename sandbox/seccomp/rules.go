package seccomp

import (
	"fmt"
	"slices"

	gsb "github.com/elastic/go-seccomp-bpf"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rule is one syscall and what happens to it: always the same action, or
// that action when one of its condition sets holds (and else the next
// rule's, or the default). A syscall has at most one rule.
type rule struct {
	name   string
	action gsb.Action
	// conds are OR'ed; the conditions of one set are AND'ed. None means
	// the action holds whatever the arguments.
	conds []gsb.ArgumentConditions
}

// rules turns the syscall entries of a runtime-spec profile into one rule
// per syscall, in the order the profile first names them. Entries for the
// same syscall and action are OR'ed, as libseccomp adds them up; a
// syscall with several actions, or with an unconditional and a
// conditional entry, is an error, because libseccomp's answer to either
// would depend on its internals.
func rules(p *specs.LinuxSeccomp) ([]rule, error) {
	var out []rule
	index := map[string]int{}
	for _, sc := range p.Syscalls {
		action, err := toAction(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp: %v: %w", sc.Names, err)
		}
		conds, err := toConditions(sc.Args)
		if err != nil {
			return nil, fmt.Errorf("seccomp: %v: %w", sc.Names, err)
		}
		for _, name := range sc.Names {
			i, seen := index[name]
			if !seen {
				index[name] = len(out)
				r := rule{name: name, action: action}
				if conds != nil {
					r.conds = []gsb.ArgumentConditions{conds}
				}
				out = append(out, r)
				continue
			}
			r := &out[i]
			if r.action != action || (r.conds == nil) != (conds == nil) {
				return nil, fmt.Errorf("seccomp: %s: conflicting rules", name)
			}
			if conds != nil {
				r.conds = append(r.conds, conds)
			}
		}
	}
	return out, nil
}

// toAction maps a runtime-spec action to the filter's return value.
func toAction(a specs.LinuxSeccompAction, errnoRet *uint) (gsb.Action, error) {
	switch a {
	case specs.ActAllow:
		return gsb.ActionAllow, nil
	case specs.ActErrno:
		errno := uint(unix.EPERM)
		if errnoRet != nil {
			errno = *errnoRet
		}
		if errno == 0 || errno > 0xffff {
			return 0, fmt.Errorf("errno %d out of range", errno)
		}
		return gsb.ActionErrno | gsb.Action(errno), nil
	case specs.ActKillProcess:
		return gsb.ActionKillProcess, nil
	}
	return 0, fmt.Errorf("action %s is not supported", a)
}

// toConditions maps runtime-spec argument checks to the filter's. They
// all must hold. libseccomp (as runc calls it) would OR several checks of
// one argument instead; no profile relies on that, so it is an error.
func toConditions(args []specs.LinuxSeccompArg) (gsb.ArgumentConditions, error) {
	if len(args) == 0 {
		return nil, nil
	}
	var out gsb.ArgumentConditions
	var seen []uint
	for _, a := range args {
		if a.Index > 5 {
			return nil, fmt.Errorf("argument index %d out of range", a.Index)
		}
		if slices.Contains(seen, a.Index) {
			return nil, fmt.Errorf("several checks of argument %d are not supported", a.Index)
		}
		seen = append(seen, a.Index)
		c := gsb.Condition{Argument: uint32(a.Index), Value: a.Value}
		switch a.Op {
		case specs.OpEqualTo:
			c.Operation = gsb.Equal
		case specs.OpNotEqual:
			c.Operation = gsb.NotEqual
		case specs.OpLessThan:
			c.Operation = gsb.LessThan
		case specs.OpLessEqual:
			c.Operation = gsb.LessOrEqual
		case specs.OpGreaterThan:
			c.Operation = gsb.GreaterThan
		case specs.OpGreaterEqual:
			c.Operation = gsb.GreaterOrEqual
		case specs.OpMaskedEqual:
			// arg & value == 0 is "none of value's bits set"; another
			// ValueTwo has no equivalent among the filter's operations.
			if a.ValueTwo != 0 {
				return nil, fmt.Errorf("masked compare with a non-zero result is not supported")
			}
			c.Operation = gsb.BitsNotSet
		default:
			return nil, fmt.Errorf("operator %s is not supported", a.Op)
		}
		out = append(out, c)
	}
	return out, nil
}
