package build

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/internal/imagetest"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

func TestPlatformArgs(t *testing.T) {
	p := image.HostPlatform()
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": `ARG TARGETARCH
FROM scratch AS base
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG TARGETPLATFORM
ARG TARGETOS
ARG TARGETARCH
ARG BUILDPLATFORM
ARG TARGETSTAGE
RUN echo "$TARGETPLATFORM $TARGETOS $TARGETARCH $BUILDPLATFORM $TARGETSTAGE" > /platform
FROM --platform=$BUILDPLATFORM base
`}))
	out, _ := testBuild(t, dir, t.TempDir())
	want := fmt.Sprintf("%s %s %s %s default\n", image.FormatPlatform(p), p.OS, p.Architecture, image.FormatPlatform(p))
	if line := lineOf(t, out, "/platform"); !strings.Contains(line, digest.FromString(want).Encoded()) {
		t.Errorf("/platform: %s, want content %q", line, want)
	}
}

type warnings struct {
	discardReporter
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Warning(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func TestUnusedBuildArgWarns(t *testing.T) {
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nARG USED\n"})
	w := &warnings{}
	testBuild(t, dir, t.TempDir(), func(o *Options) {
		o.BuildArgs = map[string]string{"USED": "1", "TYPO": "2", "HTTP_PROXY": "http://proxy", "TARGETARCH": "x"}
		o.Reporter = w
	})
	if len(w.msgs) != 1 || w.msgs[0] != "build arguments not consumed by any ARG: TYPO" {
		t.Errorf("warnings: %q", w.msgs)
	}
}

func TestStageErrors(t *testing.T) {
	for _, tc := range []struct{ df, target, want string }{
		{"FROM scratch AS a\n", "nope", `target stage "nope" could not be found`},
		{"FROM scratch\nCOPY --from=5 /x /x\n", "", "Dockerfile:2: --from=5: there is no stage 5"},
		{"FROM scratch AS a\nCOPY --from=a /x /x\n", "", "Dockerfile:2: --from=a: a stage cannot use itself"},
		{"FROM --platform=linux scratch\n", "", `Dockerfile:1: FROM --platform=linux: invalid platform "linux"`},
		{"ARG EMPTY\nFROM $EMPTY\n", "", "Dockerfile:2: base name ($EMPTY) should not be blank"},
	} {
		dir := contextDir(t, map[string]string{"Dockerfile": tc.df})
		_, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) { o.Target = tc.target })
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.df, err, tc.want)
		}
	}
}

// runWatcher starts listening on a stage's reserved socket when a RUN of
// that stage starts.
type runWatcher struct {
	discardReporter
	t       *testing.T
	mu      sync.Mutex
	sockets map[string]int // stage -> bound socket to listen on
}

func (w *runWatcher) StepStarted(info StepInfo) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fd, ok := w.sockets[info.Stage]
	if !ok || !strings.HasPrefix(info.Instruction, "RUN ") {
		return
	}
	delete(w.sockets, info.Stage)
	if err := unix.Listen(fd, 8); err != nil {
		w.t.Errorf("listen: %v", err)
		return
	}
	go func() {
		for {
			c, _, err := unix.Accept(fd)
			if err != nil {
				return // closed by the test's cleanup
			}
			unix.Close(c)
		}
	}()
}

// reservePort binds a socket to a free loopback port without listening
// on it, so that no one else takes the port before the test listens.
func reservePort(t *testing.T) (fd, port int) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Shutdown(fd, unix.SHUT_RDWR) // wakes a blocked Accept
		unix.Close(fd)
	})
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port
}

// Independent stages run at the same time: each waits (on the host
// network) for a port the test opens only once the other stage's RUN has
// started. Run one after the other, the first would wait in vain and fail.
func TestIndependentStagesRunConcurrently(t *testing.T) {
	fa, pa := reservePort(t)
	fb, pb := reservePort(t)
	wait := func(port int) string {
		return fmt.Sprintf("RUN i=0; until nc -w1 127.0.0.1 %d </dev/null; do i=$((i+1)); [ $i -lt 200 ] || exit 9; sleep 0.05; done", port)
	}
	df := strings.Replace(busyboxPrelude, "FROM scratch", "FROM scratch AS prelude", 1) +
		"FROM prelude AS a\n" + wait(pb) + "\n" +
		"FROM prelude AS b\n" + wait(pa) + "\n" +
		"FROM scratch\nCOPY --from=a /bin/busybox /a\nCOPY --from=b /bin/busybox /b\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	w := &runWatcher{t: t, sockets: map[string]int{"a": fa, "b": fb}}
	_, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) { o.Reporter = w })
	if err != nil {
		t.Fatalf("the stages did not run side by side: %v", err)
	}
}

// A stage's FROM --platform picks what it is built for; scratch takes it
// as its config's platform.
func TestStagePlatform(t *testing.T) {
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM --platform=linux/s390x scratch\nENV A=b\n"})
	out, _ := testBuild(t, dir, t.TempDir())
	cfg, err := imagetest.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "s390x" {
		t.Errorf("platform %s/%s, want linux/s390x", cfg.OS, cfg.Architecture)
	}
}
