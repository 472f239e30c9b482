package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/ptytest"
	"github.com/mybuild/mybuild/internal/runtest"
	"golang.org/x/sys/unix"
)

func TestStdin(t *testing.T) {
	bb := busyboxLayer(t)
	r := run(t, []string{bb}, Process{Args: sh("cat; echo end"), Stdin: strings.NewReader("from a reader\n")})
	if r.err != nil || r.stdout != "from a reader\nend\n" {
		t.Errorf("reader: stdout %q, err %v", r.stdout, r.err)
	}
	f, err := os.CreateTemp(t.TempDir(), "in")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("from a file\n")
	f.Seek(0, io.SeekStart)
	defer f.Close()
	r = run(t, []string{bb}, Process{Args: []string{"cat"}, Stdin: f})
	if r.err != nil || r.stdout != "from a file\n" {
		t.Errorf("file: stdout %q, err %v", r.stdout, r.err)
	}
	r = run(t, []string{bb}, Process{Args: sh("cat; echo end")})
	if r.err != nil || r.stdout != "end\n" {
		t.Errorf("no stdin: stdout %q, err %v", r.stdout, r.err)
	}
	// No stdin is /dev/null, not a closed descriptor 0.
	r = run(t, []string{bb}, Process{Args: sh("stat -L -c '%t,%T' /proc/self/fd/0")})
	if r.err != nil || r.stdout != "1,3\n" {
		t.Errorf("no stdin: device of stdin %q, want 1,3 (/dev/null), err %v\n%s", r.stdout, r.err, r.stderr)
	}
}

// A reader that never ends does not hold Run up once the process exited.
func TestStdinThatBlocks(t *testing.T) {
	bb := busyboxLayer(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	start := time.Now()
	r := run(t, []string{bb}, Process{Args: []string{"true"}, Stdin: pr})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %v", d)
	}
}

func TestCommandErrors(t *testing.T) {
	bb := busyboxLayer(t)
	for _, tc := range []struct {
		cmd  string
		want error
	}{
		{"nosuchcmd", ErrCommandNotFound},
		{"/no/such/file", ErrCommandNotFound},
		{"/bin", ErrNotExecutable},
		{"/etc/hosts", ErrNotExecutable}, // a file without x bits
	} {
		r := run(t, []string{bb}, Process{Args: []string{tc.cmd}})
		var se *SetupError
		if !errors.As(r.err, &se) || !errors.Is(r.err, tc.want) {
			t.Errorf("%s: err = %v, want a SetupError that is %v", tc.cmd, r.err, tc.want)
		}
	}
	r := run(t, []string{bb}, Process{Args: []string{"true"}, User: "ghost"})
	var se *SetupError
	if !errors.As(r.err, &se) || se.Err != nil {
		t.Errorf("unknown user: err = %v, want a SetupError of no command", r.err)
	}
}

// startLines runs spec in the background and returns its stdout lines.
func startLines(t *testing.T, spec Spec) (<-chan string, <-chan error) {
	t.Helper()
	spec.Upper, spec.Scratch = t.TempDir(), t.TempDir()
	spec.Env = []string{"PATH=/bin"}
	return runtest.Start(func(out io.Writer) error {
		spec.Stdout = out
		return Run(context.Background(), spec)
	})
}

func TestSignalsReachTheCommand(t *testing.T) {
	bb := busyboxLayer(t)
	sigs := make(chan os.Signal, 1)
	lines, done := startLines(t, Spec{Lower: []string{bb}, Process: Process{Signals: sigs, Args: sh(`trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done`)}})
	runtest.Expect(t, lines, "ready")
	sigs <- syscall.SIGTERM
	runtest.Expect(t, lines, "got TERM")
	var ee *ExitError
	if err := runtest.Wait(t, done); !errors.As(err, &ee) || ee.Code != 42 {
		t.Errorf("err = %v, want exit code 42", err)
	}
}

// PID 1 ignores a signal it has no handler for; SIGKILL always works.
func TestUnhandledSignalIsIgnored(t *testing.T) {
	bb := busyboxLayer(t)
	sigs := make(chan os.Signal, 1)
	lines, done := startLines(t, Spec{Lower: []string{bb}, Process: Process{Signals: sigs, Args: []string{"/bin/sh", "-c", "echo ready; exec sleep 1000"}}})
	runtest.Expect(t, lines, "ready")
	time.Sleep(100 * time.Millisecond) // until the exec of sleep
	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		t.Fatalf("SIGTERM ended a PID 1 without a handler: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	sigs <- syscall.SIGKILL
	var ee *ExitError
	if err := runtest.Wait(t, done); !errors.As(err, &ee) || ee.Code != 137 || ee.Signal != syscall.SIGKILL {
		t.Errorf("err = %v, want killed by SIGKILL (137)", err)
	}
}

// In terminal mode the command has a terminal of its own, in the
// sandbox's /dev/pts, as its stdio and controlling terminal, with the
// window size Console set, owned by the command's user.
func TestConsole(t *testing.T) {
	bb := busyboxLayer(t)
	var out bytes.Buffer
	copied := make(chan struct{})
	console := func(master *os.File) error {
		ws := &unix.Winsize{Row: 31, Col: 101}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return err
		}
		go func() {
			io.Copy(&out, master) // ends with EIO when the sandbox is gone
			master.Close()
			close(copied)
		}()
		return nil
	}
	script := `tty; test -t 0 && test -t 1 && test -t 2 && echo isatty; stty size; echo ctty > /dev/tty; stat -c %u /dev/pts/0; id -u; exit 5`
	upper, scratch := t.TempDir(), t.TempDir()
	err := Run(context.Background(), Spec{Lower: []string{bb}, Upper: upper, Scratch: scratch, Process: Process{Env: []string{"PATH=/bin"}, Args: sh(script), Console: console, User: "1000"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 5 {
		t.Errorf("err = %v, want exit code 5", err)
	}
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		t.Fatal("the pty master never reported the end")
	}
	got := strings.ReplaceAll(out.String(), "\r\n", "\n")
	if want := "/dev/pts/0\nisatty\n31 101\nctty\n1000\n1000\n"; got != want {
		t.Errorf("terminal output %q, want %q", got, want)
	}
}

// A Console that fails stops the sandbox before the command runs.
func TestConsoleError(t *testing.T) {
	bb := busyboxLayer(t)
	upper, scratch := t.TempDir(), t.TempDir()
	boom := errors.New("boom")
	err := Run(context.Background(), Spec{Lower: []string{bb}, Upper: upper, Scratch: scratch, Process: Process{Env: []string{"PATH=/bin"}, Args: sh("touch /ran"), Console: func(*os.File) error { return boom }}})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	if _, err := os.Stat(filepath.Join(upper, "ran")); err == nil {
		t.Error("the command ran")
	}
	runtest.AssertNoMountsUnder(t, scratch)
}

// A descriptor the builder holds without close-on-exec does not reach the
// command: it has only its stdin, stdout and stderr.
func TestNoDescriptorLeaks(t *testing.T) {
	bb := busyboxLayer(t)
	fd, err := syscall.Open(os.DevNull, syscall.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD, 100) // nor here
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(high)
	for _, user := range []string{"", "1000"} {
		r := run(t, []string{bb}, Process{Args: []string{"ls", "/proc/self/fd"}, User: user})
		if r.err != nil {
			t.Fatalf("run: %v\n%s", r.err, r.stderr)
		}
		// ls has the directory it lists open too, with the lowest free number.
		if got := strings.Fields(r.stdout); strings.Join(got, " ") != "0 1 2 3" {
			t.Errorf("user %q: the command has descriptors %q, want 0 1 2 and ls's own 3", user, got)
		}
	}
}

// A terminal of the builder's given as Stdin, Stdout or Stderr reaches the
// command through pipes only: it reads what is typed and writes to it,
// but has no terminal's descriptor.
func TestTerminalIsNotHandedOver(t *testing.T) {
	bb := busyboxLayer(t)
	master, slave := ptytest.Open(t)
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	lines := runtest.Lines(master)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Spec{Lower: []string{bb}, Upper: t.TempDir(), Scratch: t.TempDir(), Process: Process{Env: []string{"PATH=/bin"}, Stdin: slave, Stdout: slave, Stderr: slave, Args: sh(`echo ready; read line; echo "got $line"; for fd in 0 1 2; do [ -t $fd ] && echo "fd $fd is a terminal"; done; echo end >&2`)}})
	}()
	runtest.Expect(t, lines, "ready")
	if _, err := master.WriteString("typed\n"); err != nil {
		t.Fatal(err)
	}
	runtest.Expect(t, lines, "got typed")
	runtest.Expect(t, lines, "end")
	if err := runtest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
}
