package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/runtest"
	"github.com/mybuild/mybuild/sandbox/devcgroup"
	"golang.org/x/sys/unix"
)

// runOn runs p on lower with the Starter s, as run does with Run.
func runOn(t *testing.T, ctx context.Context, s *Starter, lower []string, p Process) result {
	t.Helper()
	spec := Spec{Lower: lower, Upper: t.TempDir(), Scratch: t.TempDir(), Process: p}
	spec.Env = []string{"PATH=/bin"}
	var stdout, stderr bytes.Buffer
	spec.Stdout, spec.Stderr = &stdout, &stderr
	err := s.Run(ctx, spec)
	if rest, _ := os.ReadDir(spec.Scratch); len(rest) != 0 {
		t.Errorf("scratch dir not emptied: %v", rest)
	}
	return result{stdout.String(), stderr.String(), err, spec.Upper}
}

// aheadPid is the PID of the init s started ahead, once started.
func aheadPid(t *testing.T, s *Starter) int {
	t.Helper()
	s.mu.Lock()
	a := s.ahead
	s.mu.Unlock()
	if a == nil {
		t.Fatal("no init was started ahead")
	}
	<-a.done
	if a.ip == nil {
		t.Fatal("the init started ahead failed to start")
	}
	return a.ip.cmd.Process.Pid
}

func gone(pid int) bool { return errors.Is(unix.Kill(pid, 0), unix.ESRCH) }

// A step that says another follows has that one's init started while it
// runs; the next step runs in it, its output, errors and exit code as
// they would be in an init of its own.
func TestStarterRunsTheNextStepInItsInitStartedAhead(t *testing.T) {
	bb := busyboxLayer(t)
	var s Starter
	defer s.Close()
	r := runOn(t, context.Background(), &s, []string{bb}, Process{Args: sh("echo one"), Next: true})
	if r.err != nil || r.stdout != "one\n" {
		t.Fatalf("first step: %q, %v\n%s", r.stdout, r.err, r.stderr)
	}
	pid := aheadPid(t, &s)
	r = runOn(t, context.Background(), &s, []string{bb}, Process{Args: sh("echo two; echo oops >&2; echo $$; exit 3")})
	var ee *ExitError
	if !errors.As(r.err, &ee) || ee.Code != 3 {
		t.Fatalf("second step: err = %v, want exit code 3", r.err)
	}
	if r.stdout != "two\n1\n" || r.stderr != "oops\n" {
		t.Errorf("second step: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if !gone(pid) {
		t.Errorf("the init started ahead (pid %d) is still there: the step did not run in it", pid)
	}
	if s.ahead != nil {
		t.Error("the second step, followed by none, had an init started ahead")
	}
}

// StartAhead starts the init of a step before its spec is known: the
// step runs in it (its PID is the step's command).
func TestStartAheadBeforeTheFirstStep(t *testing.T) {
	bb := busyboxLayer(t)
	var s Starter
	defer s.Close()
	var out, errOut bytes.Buffer // two writers, as runOn gives
	s.StartAhead(Process{Network: NetworkNone, Security: SecuritySandbox, Stdout: &out, Stderr: &errOut})
	pid := aheadPid(t, &s)
	marker := runtest.UniqueSleep()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		done <- runOn(t, ctx, &s, []string{bb}, Process{Args: sh("exec sleep " + marker), Network: NetworkNone})
	}()
	runtest.WaitFor(t, "the sleep", func() bool { return len(runtest.Procs(marker)) == 1 })
	if got := runtest.Procs(marker); got[0] != strconv.Itoa(pid) {
		t.Errorf("the step runs as pid %s, not in the init started ahead (pid %d)", got[0], pid)
	}
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", r.err)
	}
}

// An init started ahead that does not fit the next step (another
// network) is killed, and the step gets one of its own; one that no step
// takes is killed by Close.
func TestStarterKillsWhatNoStepTakes(t *testing.T) {
	bb := busyboxLayer(t)
	var s Starter
	if r := runOn(t, context.Background(), &s, []string{bb}, Process{Args: sh("true"), Next: true}); r.err != nil {
		t.Fatal(r.err)
	}
	pid := aheadPid(t, &s)
	r := runOn(t, context.Background(), &s, []string{bb}, Process{Args: sh("cat /proc/net/dev | grep -c :"), Network: NetworkNone, Next: true})
	if r.err != nil || r.stdout != "1\n" {
		t.Fatalf("step without network: %q, %v\n%s (want lo alone)", r.stdout, r.err, r.stderr)
	}
	if !gone(pid) {
		t.Errorf("the init started ahead for the host network (pid %d) is still there", pid)
	}
	pid = aheadPid(t, &s)
	s.Close()
	if !gone(pid) {
		t.Errorf("Close left the init started ahead (pid %d)", pid)
	}
}

// Cancelling a step that runs in an init started ahead kills it and all
// it started, as for any step.
func TestStarterCancelKillsTheStepStartedAhead(t *testing.T) {
	bb := busyboxLayer(t)
	var s Starter
	defer s.Close()
	if r := runOn(t, context.Background(), &s, []string{bb}, Process{Args: sh("true"), Next: true}); r.err != nil {
		t.Fatal(r.err)
	}
	pid := aheadPid(t, &s)
	marker := runtest.UniqueSleep()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		done <- runOn(t, ctx, &s, []string{bb}, Process{Args: sh(fmt.Sprintf("sleep %s & sleep %s", marker, marker))})
	}()
	runtest.WaitFor(t, "both sleeps", func() bool { return len(runtest.Procs(marker)) == 2 })
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	runtest.WaitFor(t, "the end of every sleep", func() bool { return len(runtest.Procs(marker)) == 0 })
	if !gone(pid) {
		t.Errorf("the init started ahead (pid %d) outlived its step", pid)
	}
}

// A step whose stdout is its stderr gets one pipe for both, in an init
// started ahead as in one of its own: what it writes keeps its order.
// An init started ahead that died while it waited is not taken: the step
// gets one of its own.
func TestStarterKeepsOrderAndSkipsTheDead(t *testing.T) {
	bb := busyboxLayer(t)
	var s Starter
	defer s.Close()
	run := func(script string, next bool) (string, error) {
		var out bytes.Buffer
		spec := Spec{Lower: []string{bb}, Upper: t.TempDir(), Scratch: t.TempDir(),
			Process: Process{Args: sh(script), Env: []string{"PATH=/bin"}, Stdout: &out, Stderr: &out, Next: next}}
		err := s.Run(context.Background(), spec)
		return out.String(), err
	}
	if _, err := run("true", true); err != nil {
		t.Fatal(err)
	}
	aheadPid(t, &s)
	order := "for i in 1 2 3 4 5 6 7 8; do echo out$i; echo err$i >&2; done"
	want := "out1\nerr1\nout2\nerr2\nout3\nerr3\nout4\nerr4\nout5\nerr5\nout6\nerr6\nout7\nerr7\nout8\nerr8\n"
	if got, err := run(order, true); err != nil || got != want {
		t.Fatalf("%v: output\n%swant\n%s", err, got, want)
	}
	pid := aheadPid(t, &s)
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	runtest.WaitFor(t, "the init to die", func() bool { return exited(pid) })
	if got, err := run("echo after", false); err != nil || got != "after\n" {
		t.Errorf("the step after a dead init: %q, %v", got, err)
	}
}

// The device cgroup of an init started ahead gets its rules while the
// init starts, however long that takes, before the step's command runs;
// where they cannot be set, the step starts over in an init of its own,
// confined all the same, and the inits started ahead after it get their
// rules first.
func TestStarterConfinesTheInitStartedAhead(t *testing.T) {
	bb := busyboxLayer(t)
	for _, refused := range []bool{false, true} {
		t.Run(fmt.Sprintf("refused=%v", refused), func(t *testing.T) {
			confine := confineCgroup
			defer func() { confineCgroup = confine; unconfinedOnce.Store(false) }()
			calls := 0
			confineCgroup = func(cg *devcgroup.Cgroup) error {
				calls++
				if refused {
					return errors.New("refused by the test")
				}
				time.Sleep(200 * time.Millisecond) // slow: the command waits for it
				return confine(cg)
			}
			var s Starter
			defer s.Close()
			// Twice: after a refusal, the rules of the next init started
			// ahead are set before it starts, as for any step.
			for i := 0; i < 2; i++ {
				if r := runOn(t, context.Background(), &s, []string{bb}, Process{Args: sh("true"), Next: true}); r.err != nil {
					t.Fatal(r.err)
				}
				pid := aheadPid(t, &s)
				r := runOn(t, context.Background(), &s, []string{bb}, Process{Args: sh(devicesScript + "; echo $$")})
				if !strings.HasSuffix(r.stdout, "\n1\n") {
					t.Fatalf("output %q does not end with the step's PID, 1", r.stdout)
				}
				r.stdout = strings.TrimSuffix(r.stdout, "1\n")
				assertDevicesRefused(t, r)
				if !gone(pid) {
					t.Errorf("the init started ahead (pid %d) is still there", pid)
				}
			}
			if want := map[bool]int{false: 2, true: 1}[refused]; calls != want {
				t.Errorf("rules set while an init started %d times, want %d", calls, want)
			}
			assertNoCgroupsLeft(t)
		})
	}
}
