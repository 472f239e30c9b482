package container

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/ptytest"
	"github.com/mybuild/mybuild/internal/runtest"
	"github.com/mybuild/mybuild/sandbox"
	"golang.org/x/sys/unix"
)

// Without a terminal on the user's side, the command still gets one, fed
// from Stdin, which ends with Ctrl-D.
func TestTerminalFromStdin(t *testing.T) {
	s := openStore(t)
	r := runImage(t, s, busyboxImage(t, s, greeter), Config{
		TTY:   &Terminal{},
		Stdin: strings.NewReader("typed\npartial"),
		Cmd:   sh(`test -t 0 && test -t 1 && test -t 2 && echo "tty $(tty) $TERM"; cat > /got; echo err >&2; cat /got`),
	})
	if r.err != nil {
		t.Fatalf("err %v, stdout %q", r.err, r.stdout)
	}
	out := strings.ReplaceAll(r.stdout, "\r\n", "\n")
	for _, want := range []string{"tty /dev/pts/0 xterm\n", "err\ntyped\npartial"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output %q lacks %q", out, want)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr %q: a terminal has no separate stderr", r.stderr)
	}
}

func lflag(t *testing.T, f *os.File) uint32 {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag
}

// The user's terminal is raw while the command runs and restored after;
// the command's terminal has its size, also after a resize.
func TestTerminalFollowsTheHost(t *testing.T) {
	s := openStore(t)
	_, host := ptytest.Open(t)
	ptytest.SetSize(t, host, 40, 120)
	before := lflag(t, host)
	if before&unix.ICANON == 0 {
		t.Fatal("a new pty is not in canonical mode")
	}
	resize := make(chan os.Signal, 1)
	lines, done := startImage(t, s, busyboxImage(t, s, greeter), Config{
		TTY: &Terminal{Host: host, Resize: resize},
		Cmd: sh(`stty size; trap 'stty size; exit 7' WINCH; echo ready; while :; do sleep 0.05; done`),
	})
	runtest.Expect(t, lines, "40 120")
	runtest.Expect(t, lines, "ready")
	if lflag(t, host)&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Error("the user's terminal is not raw while the command runs")
	}
	ptytest.SetSize(t, host, 50, 132)
	resize <- syscall.SIGWINCH
	runtest.Expect(t, lines, "50 132")
	var ee *sandbox.ExitError
	if err := runtest.Wait(t, done); !errors.As(err, &ee) || ee.Code != 7 {
		t.Errorf("err = %v, want exit code 7", err)
	}
	if after := lflag(t, host); after != before {
		t.Errorf("terminal flags %#x after the run, want %#x back", after, before)
	}
	assertNothingLeft(t, s)
}

// A user's terminal that cannot be made raw fails the run at once,
// before the command starts.
func TestTerminalSetupFails(t *testing.T) {
	s := openStore(t)
	notATerminal, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer notATerminal.Close()
	start := time.Now()
	r := runImage(t, s, busyboxImage(t, s, greeter), Config{TTY: &Terminal{Host: notATerminal}, Cmd: sh("echo ran")})
	if r.err == nil || !strings.Contains(r.err.Error(), "terminal: ") || r.stdout != "" {
		t.Errorf("err = %v, stdout %q; want a terminal error and no run", r.err, r.stdout)
	}
	if d := time.Since(start); d >= drainTimeout {
		t.Errorf("the run took %v", d)
	}
}
