package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/internal/runtest"
	"github.com/mybuild/mybuild/sandbox"
	"github.com/mybuild/mybuild/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var greeter = ocispec.ImageConfig{
	Env:        []string{"PATH=/bin", "GREETING=hello"},
	WorkingDir: "/srv",
	Cmd:        sh(`echo "$GREETING from $(pwd) as $(id -u)"`),
}

func TestRunPrintsWhatCmdPrints(t *testing.T) {
	s := openStore(t)
	r := runImage(t, s, busyboxImage(t, s, greeter), Config{})
	if r.err != nil || r.stdout != "hello from /srv as 0\n" {
		t.Errorf("stdout %q, stderr %q, err %v", r.stdout, r.stderr, r.err)
	}
}

func TestExitCodeComesBack(t *testing.T) {
	s := openStore(t)
	r := runImage(t, s, busyboxImage(t, s, greeter), Config{Cmd: sh("echo out; echo err >&2; exit 3")})
	var ee *sandbox.ExitError
	if !errors.As(r.err, &ee) || ee.Code != 3 {
		t.Errorf("err = %v, want exit code 3", r.err)
	}
	if r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

func TestConfigOverridesTheImage(t *testing.T) {
	s := openStore(t)
	r := runImage(t, s, busyboxImage(t, s, greeter), Config{
		Env:        []string{"GREETING=bye", "EXTRA=1"},
		WorkingDir: "/new/dir",
		User:       "app",
		Cmd:        sh(`echo "$GREETING $EXTRA $(pwd) $(id -u) $HOME"`),
	})
	if r.err != nil || r.stdout != "bye 1 /new/dir 1000 /home/app\n" {
		t.Errorf("stdout %q, stderr %q, err %v", r.stdout, r.stderr, r.err)
	}
}

func TestCommand(t *testing.T) {
	img := &image.Image{}
	img.Config.Config.Entrypoint = []string{"/ep", "a"}
	img.Config.Config.Cmd = []string{"c"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"image", Config{}, []string{"/ep", "a", "c"}},
		{"cmd replaces cmd", Config{Cmd: []string{"x", "y"}}, []string{"/ep", "a", "x", "y"}},
		{"entrypoint drops cmd", Config{Entrypoint: []string{"/other"}}, []string{"/other"}},
		{"entrypoint and cmd", Config{Entrypoint: []string{"/other"}, Cmd: []string{"x"}}, []string{"/other", "x"}},
		{"cleared entrypoint", Config{Entrypoint: []string{}, Cmd: []string{"x"}}, []string{"x"}},
	} {
		got, err := command(img, tc.cfg)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := command(img, Config{Entrypoint: []string{}}); !errors.Is(err, ErrNoCommand) {
		t.Errorf("no command: err = %v", err)
	}
}

func TestEnvironment(t *testing.T) {
	got := environment([]string{"A=1", "B=2"}, Config{Env: []string{"B=3", "C=4"}, TTY: &Terminal{}})
	want := []string{sandbox.DefaultPath, "A=1", "B=3", "C=4", "TERM=xterm"}
	if !slices.Equal(got, want) {
		t.Errorf("env %q, want %q", got, want)
	}
	got = environment([]string{"PATH=/x", "TERM=vt100"}, Config{TTY: &Terminal{}})
	if want := []string{"PATH=/x", "TERM=vt100"}; !slices.Equal(got, want) {
		t.Errorf("env %q, want %q", got, want)
	}
}

// Each run starts from the image: what one run writes, the next does not
// see, and nothing of it stays in the store.
func TestChangesAreThrownAway(t *testing.T) {
	s := openStore(t)
	img := busyboxImage(t, s, greeter)
	r := runImage(t, s, img, Config{Cmd: sh("echo x > /written && echo y >> /etc/passwd && rm /bin/cat")})
	if r.err != nil {
		t.Fatalf("first run: %v, %s", r.err, r.stderr)
	}
	r = runImage(t, s, img, Config{Cmd: sh("test ! -e /written && ! grep -q y /etc/passwd && test -e /bin/cat")})
	if r.err != nil {
		t.Errorf("second run saw the first one's changes: %v", r.err)
	}
	layer, err := os.ReadDir(s.LayerPath(img.Layers[0].DiffID))
	if err != nil || len(layer) != 2 {
		t.Errorf("unpacked layer: %v, %v", layer, err)
	}
}

func TestStdinIsPassed(t *testing.T) {
	s := openStore(t)
	r := runImage(t, s, busyboxImage(t, s, greeter), Config{Cmd: []string{"cat"}, Stdin: strings.NewReader("hi\n")})
	if r.err != nil || r.stdout != "hi\n" {
		t.Errorf("stdout %q, err %v", r.stdout, r.err)
	}
}

func TestCommandErrors(t *testing.T) {
	s := openStore(t)
	img := busyboxImage(t, s, greeter)
	for cmd, want := range map[string]error{"nosuchcmd": sandbox.ErrCommandNotFound, "/etc/passwd": sandbox.ErrNotExecutable, "/etc": sandbox.ErrNotExecutable} {
		r := runImage(t, s, img, Config{Cmd: []string{cmd}})
		if !errors.Is(r.err, want) {
			t.Errorf("%s: err = %v, want %v", cmd, r.err, want)
		}
	}
	empty := *img
	empty.Config.Config.ImageConfig = ocispec.ImageConfig{}
	if r := runImage(t, s, &empty, Config{}); !errors.Is(r.err, ErrNoCommand) {
		t.Errorf("no command: err = %v", r.err)
	}
}

// Run loads the image a reference names, in any transport, into the
// store it runs from.
func TestRunLoadsAnArchive(t *testing.T) {
	s := openStore(t)
	img := busyboxImage(t, s, greeter)
	archive := filepath.Join(t.TempDir(), "app.tar")
	if _, err := transport.Save(context.Background(), transport.Ref{Transport: transport.OCIArchive, Path: archive}, img, s); err != nil {
		t.Fatal(err)
	}
	other := openStore(t)
	for _, ref := range []string{archive, "oci-archive:" + archive} {
		r, err := transport.ParseRefOrPath(ref)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := Run(context.Background(), other, r, Config{Stdout: &out}); err != nil || out.String() != "hello from /srv as 0\n" {
			t.Errorf("%s: stdout %q, err %v", ref, out.String(), err)
		}
	}
	assertNothingLeft(t, other)
	missing := transport.Ref{Transport: transport.OCIArchive, Path: filepath.Join(t.TempDir(), "missing.tar")}
	if err := Run(context.Background(), other, missing, Config{}); err == nil || !strings.HasPrefix(err.Error(), "load "+missing.String()+": ") {
		t.Errorf("ran an image that does not exist: err = %v", err)
	}
	assertNothingLeft(t, other)
}

func TestSignalReachesTheCommand(t *testing.T) {
	s := openStore(t)
	sigs := make(chan os.Signal, 1)
	lines, done := startImage(t, s, busyboxImage(t, s, greeter), Config{Signals: sigs,
		Cmd: sh(`trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done`)})
	runtest.Expect(t, lines, "ready")
	sigs <- syscall.SIGTERM
	runtest.Expect(t, lines, "got TERM")
	var ee *sandbox.ExitError
	if err := runtest.Wait(t, done); !errors.As(err, &ee) || ee.Code != 42 {
		t.Errorf("err = %v, want exit code 42", err)
	}
	assertNothingLeft(t, s)
}

// A command that ignores Ctrl-C is killed at the third.
func TestThirdInterruptKills(t *testing.T) {
	s := openStore(t)
	sigs := make(chan os.Signal, 1)
	lines, done := startImage(t, s, busyboxImage(t, s, greeter), Config{Signals: sigs,
		Cmd: sh(`trap 'echo got INT' INT; echo ready; while :; do sleep 0.05; done`)})
	runtest.Expect(t, lines, "ready")
	for range 2 {
		sigs <- syscall.SIGINT
		runtest.Expect(t, lines, "got INT")
	}
	sigs <- syscall.SIGINT
	var ee *sandbox.ExitError
	if err := runtest.Wait(t, done); !errors.As(err, &ee) || ee.Signal != syscall.SIGKILL || ee.Code != 137 {
		t.Errorf("err = %v, want killed by SIGKILL", err)
	}
	assertNothingLeft(t, s)
}

// A signal before the command starts stops the run, which runs nothing.
func TestSignalBeforeTheStartInterrupts(t *testing.T) {
	s := openStore(t)
	img := busyboxImage(t, s, greeter)
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGINT
	r := runImage(t, s, img, Config{Signals: sigs})
	if !errors.Is(r.err, ErrInterrupted) || r.stdout != "" || !strings.Contains(r.err.Error(), "SIGINT") {
		t.Errorf("err = %v, stdout %q; want ErrInterrupted by SIGINT", r.err, r.stdout)
	}
}
