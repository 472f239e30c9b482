package sandbox

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"

	"github.com/mybuild/mybuild/internal/userns"
	"github.com/mybuild/mybuild/sandbox/devcgroup"
	"golang.org/x/sys/unix"
)

// Starter runs sandboxes as Run does, and starts the init of the next
// step ahead, while the step before it still runs, when that step says
// one will follow (Process.Next). A step's init then only has to read
// its config: the runtime of a fresh init takes milliseconds to start,
// which a build of many RUN steps otherwise pays for each of them. A
// Starter is safe for concurrent use; Close kills the inits started
// ahead that no step took.
type Starter struct {
	mu    sync.Mutex
	ahead *aheadInit
}

// aheadInit is an init being started, or started, for a step to come.
type aheadInit struct {
	done     chan struct{} // closed once started, or failed
	ip       *initProc     // nil when it failed
	network  Network
	security Security
	shared   bool // one pipe for stdout and stderr (sameWriter)
}

// Run is Run, taking the init started ahead when it fits spec.
func (s *Starter) Run(ctx context.Context, spec Spec) (err error) {
	spec.Mounts = slices.Clone(spec.Mounts)
	if err := spec.validate(); err != nil {
		return err
	}
	defer func() {
		if cerr := emptyDir(spec.Scratch); cerr != nil && err == nil {
			err = cerr
		}
	}()
	ip := s.take(spec)
	if spec.Next && ctx.Err() == nil {
		s.startAhead(spec)
	}
	if ip == nil {
		return start(ctx, spec)
	}
	stop := context.AfterFunc(ctx, func() { _ = ip.cmd.Process.Kill() })
	err = ip.finish(ctx, spec)
	stop()
	ip.release(spec.Warn)
	if errors.Is(err, errUnconfined) && ctx.Err() == nil {
		// Nothing of the step ran: start over in a clean scratch dir.
		if err := emptyDir(spec.Scratch); err != nil {
			return err
		}
		return start(ctx, spec)
	}
	return err
}

// fitsAhead tells whether an init started ahead can run spec: one whose
// output goes to pipes, with no terminal, no signals and no stdin, in
// the network and cgroup it was made for.
func fitsAhead(spec Spec) bool {
	return spec.Console == nil && spec.Signals == nil && spec.Stdin == nil
}

// take returns the init started ahead, when it fits spec; one that does
// not is killed.
func (s *Starter) take(spec Spec) *initProc {
	s.mu.Lock()
	a := s.ahead
	s.ahead = nil
	s.mu.Unlock()
	if a == nil {
		return nil
	}
	<-a.done
	if a.ip == nil {
		return nil
	}
	if !fitsAhead(spec) || a.network != spec.Network || a.security != spec.Security ||
		a.shared != sameWriter(spec.Stdout, spec.Stderr) || exited(a.ip.cmd.Process.Pid) {
		a.ip.abandon()
		return nil
	}
	return a.ip
}

// exited tells whether the child pid has ended (killed while it waited:
// by hand, by the OOM killer), without reaping it.
func exited(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != nil || info.Signo != 0
}

// StartAhead starts, in the background, the init of a step that runs p,
// unless one is started already: a build calls it once it knows that
// such a step will run, so that the init's runtime starts while the
// step's root is made. Only p's output writers, network and security
// matter; a step that does not fit the init kills it.
func (s *Starter) StartAhead(p Process) {
	s.startAhead(Spec{Process: p})
	// The goroutine that starts it waits in this P's queue until this
	// one blocks, and the caller goes on with CPU work (the miss
	// explained, the root made) for milliseconds: let it go first.
	runtime.Gosched()
}

// startAhead starts, in the background, the init of a step like spec,
// unless one is started already.
func (s *Starter) startAhead(spec Spec) {
	if !fitsAhead(spec) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ahead != nil {
		return
	}
	a := &aheadInit{done: make(chan struct{}), network: spec.Network, security: spec.Security,
		shared: sameWriter(spec.Stdout, spec.Stderr)}
	s.ahead = a
	// Its own context: the step that takes it kills it on its own. Its
	// namespaces are made now: a host mount made later is not in them
	// (nothing a build step binds is made during the build).
	template := Spec{Process: Process{Network: spec.Network, Security: spec.Security, Warn: func(string) {}}}
	go func() {
		ip, err := startInit(context.Background(), template, a)
		if err == nil {
			a.ip = ip
		}
		close(a.done)
		if spec.Security == SecuritySandbox {
			// Compiled once per build, for the step's config: while the
			// init's runtime starts.
			_, _ = stepFilter()
		}
	}()
}

// Close kills the init started ahead that no step took, if any. The
// Starter may run steps again afterwards.
func (s *Starter) Close() {
	s.mu.Lock()
	a := s.ahead
	s.ahead = nil
	s.mu.Unlock()
	if a != nil {
		<-a.done
		if a.ip != nil {
			a.ip.abandon()
		}
	}
}

// abandon kills an init that never got its config, and releases it. A
// cgroup that outlives it is reaped by a later build.
func (ip *initProc) abandon() {
	_ = kill(ip.cmd, nil)
	ip.release(func(string) {})
}

// aheadCgroup is the device cgroup of an init started ahead: as
// deviceCgroup, but with no probe of a device policy (that makes nodes in
// a scratch dir, which a step started ahead has not got yet): where no
// cgroup can be made, nothing is started ahead. later says its rules are
// to be set while the init starts (initProc.confineLater): unless that
// failed once in this process, which then sets them first, where they
// can be, as it did before.
func aheadCgroup() (cg *devcgroup.Cgroup, later bool, err error) {
	if userns.Inside() {
		return nil, false, nil
	}
	if unconfinedOnce.Load() {
		cg, err = devcgroup.New(allowedDevices)
		return cg, false, err
	}
	cg, err = devcgroup.Make()
	return cg, cg != nil, err
}
