package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/container"
	"github.com/mybuild/mybuild/internal/ptytest"
	"github.com/mybuild/mybuild/internal/runtest"
)

// The image of the run tests: busybox, a user app, an env, a working dir
// and a CMD.
const runDockerfile = prelude + `RUN mkdir -p /etc && printf 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' > /etc/passwd && printf 'root:x:0:\napp:x:1000:\n' > /etc/group
ENV GREETING=hello
WORKDIR /srv
CMD ["sh", "-c", "echo \"$GREETING from $(pwd) as $(id -u)\""]
`

// runImage builds the run tests' image into an OCI archive and returns
// it, with a cache dir that holds nothing else.
func runImage(t *testing.T) (archive, cacheDir string) {
	t.Helper()
	archive = filepath.Join(t.TempDir(), "app.tar")
	if code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), "-q", "-t", archive, project(t, runDockerfile)); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	return archive, t.TempDir()
}

// runIn runs mybuild run in this process, with /dev/null as stdin.
func runIn(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var out, errb bytes.Buffer
	code = runRun(args, null, &out, &errb)
	return code, out.String(), errb.String()
}

// assertRunLeftNothing checks that no scratch dir and no mount are left
// in the cache.
func assertRunLeftNothing(t *testing.T, cacheDir string) {
	t.Helper()
	if left := scratchDirs(t, cacheDir); len(left) != 0 {
		t.Errorf("scratch left: %v", left)
	}
	runtest.AssertNoMountsUnder(t, cacheDir)
}

func TestRunPrintsWhatCmdPrints(t *testing.T) {
	archive, cacheDir := runImage(t)
	code, stdout, stderr := runIn(t, "--cache-dir", cacheDir, archive)
	if code != 0 || stdout != "hello from /srv as 0\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	assertRunLeftNothing(t, cacheDir)
}

func TestRunPassesTheExitCode(t *testing.T) {
	archive, cacheDir := runImage(t)
	code, stdout, stderr := runIn(t, "--cache-dir", cacheDir, "oci-archive:"+archive, "sh", "-c", "echo out; exit 3")
	if code != 3 || stdout != "out\n" || stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 3, out, nothing", code, stdout, stderr)
	}
}

func TestRunFlags(t *testing.T) {
	archive, cacheDir := runImage(t)
	t.Setenv("FROM_HOST", "host value")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-e", "GREETING=bye", "--env", "FROM_HOST", "-w", "/new/dir", "--user", "app", archive,
			"sh", "-c", `echo "$GREETING|$FROM_HOST|$(pwd)|$(id -u)|$HOME"`}, "bye|host value|/new/dir|1000|/home/app\n"},
		{[]string{"-u", "1000:1000", "--workdir=/tmp", archive, "sh", "-c", "id -u; id -g; pwd"}, "1000\n1000\n/tmp\n"},
		{[]string{"--entrypoint", "echo", archive, "a", "b"}, "a b\n"},
		{[]string{"--entrypoint=", archive, "echo", "no entrypoint"}, "no entrypoint\n"},
		{[]string{"--network", "none", archive, "ls", "/sys/class/net"}, "lo\n"},
		// mybuild's first single-dash flags still work (with a warning).
		{[]string{"-network", "none", "-workdir=/tmp", archive, "sh", "-c", "ls /sys/class/net; pwd"}, "lo\n/tmp\n"},
		// Flags stop at IMAGE.
		{[]string{archive, "printf", "%s|", "-e", "x", "--user"}, "-e|x|--user|"},
		{[]string{"-i", "-t=false", archive, "echo", "docker's -i"}, "docker's -i\n"},
		// Confined as a RUN step, unless --privileged.
		{[]string{archive, "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status | tr -s '\t' ' '"}, "CapEff: 00000000a80425fb\nSeccomp: 2\n"},
		{[]string{"--privileged", archive, "sh", "-c", "grep Seccomp: /proc/self/status | tr -s '\t' ' '; mkdir /mnt && mount -t tmpfs tmpfs /mnt && echo mounted"}, "Seccomp: 0\nmounted\n"},
	} {
		args := append([]string{"--cache-dir", cacheDir}, tc.args...)
		code, stdout, stderr := runIn(t, args...)
		if code != 0 || stdout != tc.want {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

func TestRunThrowsChangesAway(t *testing.T) {
	archive, cacheDir := runImage(t)
	if code, _, stderr := runIn(t, "--cache-dir", cacheDir, archive, "sh", "-c", "touch /written /srv/too && rm /bin/ls"); code != 0 {
		t.Fatalf("first run: exit %d, %s", code, stderr)
	}
	assertRunLeftNothing(t, cacheDir)
	if code, _, stderr := runIn(t, "--cache-dir", cacheDir, archive, "sh", "-c", "test ! -e /written && test ! -e /srv/too && test -e /bin/ls"); code != 0 {
		t.Errorf("the second run saw the first one's changes: exit %d, %s", code, stderr)
	}
	assertRunLeftNothing(t, cacheDir)
}

func TestRunErrors(t *testing.T) {
	archive, cacheDir := runImage(t)
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{filepath.Join(t.TempDir(), "missing.tar")}, 125, "mybuild: load oci-archive:"},
		{[]string{"oci-archive:" + filepath.Join(t.TempDir(), "missing.tar")}, 125, "mybuild: load oci-archive:"},
		{[]string{"--pull=never", "no-such-image-here"}, 125, "mybuild: "},
		{[]string{archive, "nosuchcmd"}, 127, `"nosuchcmd": executable file not found in $PATH`},
		{[]string{archive, "/etc/passwd"}, 126, "permission denied"},
		{[]string{archive, "/etc"}, 126, "permission denied"},
		{[]string{"--network", "bridge", archive}, 125, `--network: unknown network mode "bridge"`},
		{nil, 125, "run: missing IMAGE"},
	} {
		code, stdout, stderr := runIn(t, append([]string{"--cache-dir", cacheDir}, tc.args...)...)
		if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.err) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and one line with %q", tc.args, code, stdout, stderr, tc.code, tc.err)
		}
	}
	assertRunLeftNothing(t, cacheDir)
	if code, _, stderr := runIn(t, "--bogus", archive); code != 125 || stderr != "mybuild: run: unknown flag: --bogus (see mybuild run --help)\n" {
		t.Errorf("--bogus: exit %d, %q", code, stderr)
	}
}

// startRun runs this test binary as mybuild run, in a session of its own
// with the terminal given or none.
func startRun(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), "MYBUILD_TEST_CLI=1")
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return ee.ExitCode()
}

func TestRunPassesStdin(t *testing.T) {
	archive, cacheDir := runImage(t)
	cmd := startRun(t, "--cache-dir", cacheDir, archive, "sh", "-c", "cat; echo end")
	cmd.Stdin = strings.NewReader("hi\n")
	out, err := cmd.Output()
	if code := exitCode(t, err); code != 0 || string(out) != "hi\nend\n" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	assertRunLeftNothing(t, cacheDir)
}

// Signals to mybuild reach the command, whose exit code comes back; a
// command that ignores Ctrl-C dies at the third.
func TestRunForwardsSignals(t *testing.T) {
	archive, cacheDir := runImage(t)
	for _, tc := range []struct {
		name   string
		script string
		sigs   []syscall.Signal
		code   int
		output []string
	}{
		{"SIGTERM", `trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done`, []syscall.Signal{syscall.SIGTERM}, 42, []string{"got TERM"}},
		{"SIGUSR1", `trap 'echo got USR1; exit 5' USR1; echo ready; while :; do sleep 0.05; done`, []syscall.Signal{syscall.SIGUSR1}, 5, []string{"got USR1"}},
		{"three SIGINTs", `trap '' INT; echo ready; while :; do sleep 0.05; done`, []syscall.Signal{syscall.SIGINT, syscall.SIGINT, syscall.SIGINT}, 137, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := startRun(t, "--cache-dir", cacheDir, archive, "sh", "-c", tc.script)
			pr, pw, _ := os.Pipe()
			cmd.Stdout = pw
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer cmd.Process.Kill()
			lines := runtest.Lines(pr)
			runtest.Expect(t, lines, "ready")
			for _, sig := range tc.sigs {
				cmd.Process.Signal(sig)
				time.Sleep(100 * time.Millisecond)
			}
			for _, want := range tc.output {
				runtest.Expect(t, lines, want)
			}
			if code := exitCode(t, runtest.Wait(t, done)); code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr.String())
			}
			if l, ok := <-lines; ok {
				t.Errorf("unexpected line %q", l)
			}
			assertRunLeftNothing(t, cacheDir)
		})
	}
}

// runOnPTY runs mybuild run with a new pty as its stdin, stdout and
// stderr, and returns what the pty showed.
func runOnPTY(t *testing.T, args ...string) (code int, output string) {
	t.Helper()
	master, slave := ptytest.Open(t)
	ptytest.SetSize(t, slave, 33, 99)
	cmd := startRun(t, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, master) // EIO once the slave is closed
		close(copied)
	}()
	code = exitCode(t, cmd.Run())
	slave.Close()
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		t.Fatal("the pty output did not end")
	}
	return code, strings.ReplaceAll(out.String(), "\r\n", "\n")
}

func TestRunOnATerminal(t *testing.T) {
	archive, cacheDir := runImage(t)
	script := `test -t 0 && test -t 1 && echo "tty $(tty) $TERM"; stty size; exit 4`
	code, out := runOnPTY(t, "--cache-dir", cacheDir, archive, "sh", "-c", script)
	if code != 4 || out != "tty /dev/pts/0 xterm\n33 99\n" {
		t.Errorf("exit %d, terminal showed %q", code, out)
	}
	assertRunLeftNothing(t, cacheDir)

	// -t=false: no terminal, and not the user's either.
	code, out = runOnPTY(t, "--cache-dir", cacheDir, "-t=false", archive, "sh", "-c", "test -t 0 || test -t 1 || echo no tty")
	if code != 0 || out != "no tty\n" {
		t.Errorf("-t=false: exit %d, terminal showed %q", code, out)
	}
}

// -t gives a terminal even when mybuild has none; stdin is typed into it.
// docker's -it is -i -t.
func TestRunForcedTerminal(t *testing.T) {
	archive, cacheDir := runImage(t)
	for _, flag := range []string{"-t", "-it", "-ti"} {
		cmd := startRun(t, "--cache-dir", cacheDir, flag, archive, "sh", "-c", `test -t 0 && echo tty; read line; echo "got $line"`)
		cmd.Stdin = strings.NewReader("typed\n")
		out, err := cmd.Output()
		got := strings.ReplaceAll(string(out), "\r\n", "\n")
		if code := exitCode(t, err); code != 0 || !strings.Contains(got, "tty\n") || !strings.Contains(got, "got typed\n") {
			t.Errorf("%s: exit %d, output %q", flag, code, got)
		}
	}
}

// A signal while the cache opens interrupts mybuild run, also when it
// comes just as the opening succeeds; one after it is left for the
// command.
func TestUntilSignal(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	released := 0
	_, err := untilSignal(sigs, func(ctx context.Context) (int, error) {
		sigs <- syscall.SIGINT
		<-ctx.Done()
		return 1, nil // done, but too late
	}, func(int) { released++ })
	if !errors.Is(err, container.ErrInterrupted) || released != 1 {
		t.Errorf("signal as it succeeds: err = %v, released %d times; want ErrInterrupted, once", err, released)
	}
	_, err = untilSignal(sigs, func(ctx context.Context) (int, error) {
		sigs <- syscall.SIGINT
		<-ctx.Done()
		return 0, ctx.Err()
	}, func(int) { released++ })
	if !errors.Is(err, container.ErrInterrupted) || released != 1 {
		t.Errorf("signal while it runs: err = %v, released %d times", err, released)
	}
	v, err := untilSignal(sigs, func(ctx context.Context) (int, error) { return 7, nil }, func(int) { released++ })
	if err != nil || v != 7 || released != 1 {
		t.Errorf("no signal: %d, %v", v, err)
	}
	sigs <- syscall.SIGTERM
	if len(sigs) != 1 {
		t.Error("a signal after it returned was taken")
	}
}
