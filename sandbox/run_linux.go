package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mybuild/mybuild/sandbox/devcgroup"
	"golang.org/x/sys/unix"
)

// Run runs spec.Args in a new sandbox and waits for it. Every change lands
// in spec.Upper; nothing the sandbox itself needs (mount points, /dev,
// /proc) does. The process and everything it started are killed when ctx
// is done or when the builder dies, and every mount lives only in the
// sandbox's own mount namespace, so none outlives it.
func Run(ctx context.Context, spec Spec) error {
	spec.Next = false // nothing to start ahead for
	var s Starter
	return s.Run(ctx, spec)
}

// start starts the init, prepares the root while the init's runtime
// starts (it waits for its config), hands the config over and waits.
func start(ctx context.Context, spec Spec) error {
	ip, err := startInit(ctx, spec, nil)
	if err != nil {
		return err
	}
	defer ip.release(spec.Warn)
	return ip.finish(ctx, spec)
}

// initProc is a started sandbox init, waiting for its config, and what
// the builder holds for it.
type initProc struct {
	cmd      *exec.Cmd
	p        *initPipes
	console  int
	moveInto *devcgroup.Cgroup // the cgroup to move it into, when not born in it
	cg       *devcgroup.Cgroup
	// confined is closed once cg's rules are set, when they were set
	// while the init started (see confineLater), with confineErr.
	confined   chan struct{}
	confineErr error
	releases   []func()
	// outR and errR are the read ends of its stdout and stderr, when it
	// was started ahead of its step (see Starter), whose writers it did
	// not know yet: finish copies them. errR is nil when the two share
	// one pipe, as they do for a step whose stdout is its stderr.
	outR, errR *os.File
}

// startInit starts the init of spec, or, with ahead, of a step to come:
// its output goes to pipes that finish connects (one for both streams
// when ahead.shared).
func startInit(ctx context.Context, spec Spec, ahead *aheadInit) (_ *initProc, err error) {
	p, err := newInitPipes()
	if err != nil {
		return nil, err
	}
	ip := &initProc{p: p, console: -1}
	ip.releases = append(ip.releases, p.close)
	defer func() {
		if err != nil {
			ip.release(spec.Warn)
		}
	}()
	ip.cmd = initCommand(ctx, spec, p)
	if ahead != nil {
		err = ip.outputPipes(ahead.shared)
	} else {
		var closeIO func()
		ip.console, closeIO, err = attachIO(ip.cmd, spec)
		if closeIO != nil {
			ip.releases = append(ip.releases, closeIO)
		}
	}
	if err != nil {
		return nil, err
	}
	later := false // the cgroup's rules set while the init starts
	switch {
	case spec.Security != SecuritySandbox:
	case ahead != nil:
		ip.cg, later, err = aheadCgroup()
	default:
		ip.cg, err = deviceCgroup(spec.Scratch, spec.Warn)
	}
	if err != nil {
		return nil, err
	}
	born := false
	if ip.cg != nil {
		closeDir, err := bornInto(ip.cmd, ip.cg)
		if err != nil {
			return nil, err
		}
		ip.releases = append(ip.releases, closeDir)
		born = ip.cmd.SysProcAttr.UseCgroupFD
	}
	if err := ip.cmd.Start(); err != nil {
		return nil, fmt.Errorf("sandbox: start: %w", err)
	}
	for _, f := range ip.cmd.ExtraFiles {
		f.Close()
	}
	if f, ok := ip.cmd.Stdin.(*os.File); ok && f != spec.Stdin {
		f.Close() // the read end of the stdin pipe: the process has it
	}
	if ahead != nil {
		// The write ends: the process has them.
		ip.cmd.Stdout.(*os.File).Close()
		ip.cmd.Stderr.(*os.File).Close() // the same file again, when shared: harmless
	}
	if !born {
		ip.moveInto = ip.cg // not in it from birth: moved by handOver
	}
	if later {
		ip.confineLater()
	}
	return ip, nil
}

// confineLater sets the rules of the init's device cgroup while the init
// starts: a device program takes the kernel a millisecond to load and
// attach, and until handOver lets it go on, the init opens no device
// node (see initSandbox). handOver waits for them.
func (ip *initProc) confineLater() {
	ip.confined = make(chan struct{})
	go func() {
		defer close(ip.confined)
		if ip.confineErr = confineCgroup(ip.cg); ip.confineErr != nil {
			unconfinedOnce.Store(true)
		}
	}()
}

// unconfinedOnce is set once the rules of a cgroup could not be set
// while its init started: each step after it would fail the same way,
// and then start over.
var unconfinedOnce atomic.Bool

// confineCgroup sets the rules of a step's device cgroup (a test makes
// it fail).
var confineCgroup = func(cg *devcgroup.Cgroup) error { return cg.Confine(allowedDevices) }

// errUnconfined is handOver's error when the rules of an init's device
// cgroup could not be set while it started: the step then starts over
// the usual way, which finds what confines its devices.
var errUnconfined = errors.New("sandbox: the device cgroup of the init started ahead could not be confined")

// waitConfined waits for the rules confineLater sets, if any.
func (ip *initProc) waitConfined() error {
	if ip.confined == nil {
		return nil
	}
	<-ip.confined
	if ip.confineErr != nil {
		return fmt.Errorf("%w: %w", errUnconfined, ip.confineErr)
	}
	return nil
}

// outputPipes gives the init pipes for stdout and stderr, whose read
// ends it keeps: one for both when shared, so that what the step writes
// to the two keeps its order, as exec.Cmd does for one writer.
func (ip *initProc) outputPipes(shared bool) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	if shared {
		ip.outR, ip.cmd.Stdout, ip.cmd.Stderr = outR, outW, outW
		ip.releases = append(ip.releases, func() { outR.Close(); outW.Close() })
		return nil
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	ip.outR, ip.errR = outR, errR
	ip.cmd.Stdout, ip.cmd.Stderr = outW, errW
	ip.releases = append(ip.releases, func() { outR.Close(); errR.Close(); outW.Close(); errW.Close() })
	return nil
}

// finish prepares the root of spec, hands the init its config, and waits
// for the command.
func (ip *initProc) finish(ctx context.Context, spec Spec) error {
	cmd := ip.cmd
	copied := ip.copyOutput(spec)
	cfg, err := prepare(spec)
	if err == nil {
		cfg.TTY = spec.Console != nil
		err = handOver(cmd, spec, cfg, ip.p, ip.waitConfined, ip.moveInto, ip.console)
	}
	if err != nil {
		err = kill(cmd, err)
		copied()
		if ctx.Err() != nil {
			return ctx.Err() // the init was killed for it
		}
		return err
	}
	// The status pipe closes when the command is exec'd, or the init died.
	status, readErr := io.ReadAll(ip.p.statusR)
	stopSignals := forwardSignals(cmd.Process, spec.Signals, len(status) == 0 && readErr == nil)
	waitErr := cmd.Wait()
	stopSignals()
	copied()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if readErr != nil {
		return fmt.Errorf("sandbox: read status: %w", readErr)
	}
	if len(status) > 0 {
		return setupError(status)
	}
	return exitError(waitErr)
}

// copyOutput copies the output pipes of an init started ahead to spec's
// writers; wait waits for the copies, which end once every process of
// the sandbox is gone (killing its PID 1 killed the rest), or WaitDelay
// after.
func (ip *initProc) copyOutput(spec Spec) (wait func()) {
	if ip.outR == nil {
		return func() {}
	}
	var wg sync.WaitGroup
	type outCopy struct {
		r *os.File
		w io.Writer
	}
	copies := []outCopy{{ip.outR, stdoutWriter(spec.Stdout)}}
	if ip.errR != nil {
		copies = append(copies, outCopy{ip.errR, stdoutWriter(spec.Stderr)})
	}
	for _, c := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(c.w, c.r)
		}()
	}
	return func() {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(ip.cmd.WaitDelay):
			for _, c := range copies {
				c.r.Close()
			}
			<-done
		}
	}
}

// release lets go of what the builder holds for the init, once it is
// reaped (or never started): the cgroup goes once its processes are
// reaped. One left behind is empty (the step's PID namespace is gone)
// and is reaped by a later build: worth a warning, not a failure.
func (ip *initProc) release(warn func(string)) {
	for i := len(ip.releases) - 1; i >= 0; i-- {
		ip.releases[i]()
	}
	if ip.cg != nil {
		if ip.confined != nil {
			<-ip.confined
		}
		if err := ip.cg.Remove(); err != nil {
			warn(err.Error())
		}
	}
}

// bornInto makes cmd's process start in cg, when cg is a cgroup v2 and
// the kernel has clone3 with CLONE_INTO_CGROUP (5.7): no move afterwards.
// closeDir closes the cgroup's directory once the process started.
func bornInto(cmd *exec.Cmd, cg *devcgroup.Cgroup) (closeDir func(), err error) {
	if !cloneIntoCgroup() {
		return func() {}, nil
	}
	dir, ok, err := cg.OpenV2()
	if err != nil || !ok {
		return func() {}, err
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = int(dir.Fd())
	return func() { dir.Close() }, nil
}

// cloneIntoCgroup tells whether the kernel is 5.7 or later, which clone3's
// CLONE_INTO_CGROUP needs.
var cloneIntoCgroup = sync.OnceValue(func() bool { return kernelAtLeast(5, 7) })

// kernelAtLeast tells whether the running kernel is major.minor or later.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// initPipes are the pipes between the builder and the init (see the fd
// constants): the builder keeps one end of each, the init gets the other.
type initPipes struct {
	cfgR, cfgW, statusR, statusW, aliveR, aliveW *os.File
}

func newInitPipes() (*initPipes, error) {
	p := &initPipes{}
	var err error
	if p.cfgR, p.cfgW, err = os.Pipe(); err != nil {
		return nil, err
	}
	if p.statusR, p.statusW, err = os.Pipe(); err != nil {
		p.close()
		return nil, err
	}
	if p.aliveR, p.aliveW, err = os.Pipe(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// close closes every end; those the init got are closed once it started,
// closing them again is harmless.
func (p *initPipes) close() {
	for _, f := range []*os.File{p.cfgR, p.cfgW, p.statusR, p.statusW, p.aliveR, p.aliveW} {
		if f != nil {
			f.Close()
		}
	}
}

// initCommand is this binary, re-executed as the sandbox init in new
// namespaces. The command is PID 1 of its namespace: killing it kills
// every process it started, and Pdeathsig kills it when the builder dies.
func initCommand(ctx context.Context, spec Spec, p *initPipes) *exec.Cmd {
	flags := unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	if spec.Network == NetworkNone {
		flags |= unix.CLONE_NEWNET
	}
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{initArg}
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{p.cfgR, p.statusW, p.aliveR}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: uintptr(flags),
		Pdeathsig:  syscall.SIGKILL,
		Setsid:     spec.Console != nil || spec.Signals != nil,
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// attachIO gives the init its stdin, stdout and stderr, or, with a
// Console, the socket it sends the pty master over (console is then the
// builder's end, else -1). closeIO releases what the builder holds.
func attachIO(cmd *exec.Cmd, spec Spec) (console int, closeIO func(), err error) {
	if spec.Console != nil {
		console, child, err := consoleSocket()
		if err != nil {
			return -1, nil, err
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, child)
		return console, func() { unix.Close(console); child.Close() }, nil
	}
	cmd.Stdout = stdoutWriter(spec.Stdout)
	cmd.Stderr = stdoutWriter(spec.Stderr)
	stdin, closeStdin, err := stdinFile(spec.Stdin)
	if err != nil {
		return -1, nil, err
	}
	if stdin != nil {
		// A nil *os.File in cmd.Stdin would not be nil: exec would close
		// descriptor 0 instead of opening /dev/null.
		cmd.Stdin = stdin
	}
	return -1, closeStdin, nil
}

// handOver sends the started init its config, waits for the rules of its
// device cgroup (confined) or moves it into that cgroup (cg), and lets it
// run the command; with a console, it takes the pty. Setting the rules
// and moving a process between cgroups each take the kernel a
// millisecond or more: the init sets up the root meanwhile, and waits
// for the byte on fdAlive only before it reads the image.
func handOver(cmd *exec.Cmd, spec Spec, cfg *childConfig, p *initPipes, confined func() error, cg *devcgroup.Cgroup, console int) error {
	if err := json.NewEncoder(p.cfgW).Encode(cfg); err != nil {
		return fmt.Errorf("sandbox: send config: %w", err)
	}
	p.cfgW.Close()
	if err := confined(); err != nil {
		return err
	}
	if cg != nil {
		if err := cg.Add(cmd.Process.Pid); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	// A failed write is an init that gave up already: its status says why.
	_, _ = p.aliveW.Write([]byte{1})
	if console >= 0 {
		return takeConsole(console, spec.Console)
	}
	return nil
}

// kill stops a sandbox that could not be set up, and returns err.
func kill(cmd *exec.Cmd, err error) error {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return err
}

func setupError(status []byte) error {
	var msg statusMsg
	if err := json.Unmarshal(status, &msg); err != nil {
		return fmt.Errorf("sandbox: bad status %q: %w", status, err)
	}
	se := &SetupError{Msg: msg.Error}
	switch msg.Exec {
	case notFound:
		se.Err = ErrCommandNotFound
	case notExecutable:
		se.Err = ErrNotExecutable
	}
	return se
}

func exitError(err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok {
		return err
	}
	if ws.Signaled() {
		return &ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	}
	return &ExitError{Code: ws.ExitStatus()}
}

// emptyDir removes everything inside dir, which stays.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sandbox: clean up: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("sandbox: clean up: %w", err)
		}
	}
	return nil
}
