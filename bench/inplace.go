package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
)

// inPlaceMode runs mybuild in mybuild's own image (deploy/Dockerfile),
// in a container of a private Docker engine with Docker's default
// security, where it builds in place. The work dir is a volume at the
// same path; each build is timed inside the container by this program
// (-time), so that docker's own cost is left out. The builds follow each
// other in one container, each starting from the root the one before
// left; with fresh, each runs in a container of its own, started from
// the image, as the jobs of a CI pipeline do (the cache dir, on the
// volume, carries the cache from one to the next).
func (b *bench) inPlaceMode(fresh bool) (mode, error) {
	name := "in-place"
	if fresh {
		name = "in-place-fresh"
	}
	dir := filepath.Join(b.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return mode{}, err
	}
	tools := filepath.Join(dir, "tools")
	if err := os.MkdirAll(tools, 0o755); err != nil {
		return mode{}, err
	}
	static := exec.Command("go", "build", "-o", filepath.Join(tools, "bench"), "./bench")
	static.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := static.CombinedOutput(); err != nil {
		return mode{}, fmt.Errorf("build the timer: %v\n%s", err, out)
	}
	archive := filepath.Join(dir, "mybuild-image.tar")
	if err := run("deploy/build-image.sh", "docker-archive:"+archive+":mybuild:bench", "-q"); err != nil {
		return mode{}, fmt.Errorf("build mybuild's image: %w", err)
	}
	if b.engine == nil {
		eng, err := startEngine(b.work)
		if err != nil {
			return mode{}, err
		}
		cleanups = append(cleanups, eng.stop)
		b.engine = eng
	}
	eng := b.engine
	if err := eng.docker("load", "-q", "-i", archive); err != nil {
		return mode{}, err
	}
	volumes := []string{"--network", "host", "-v", b.work + ":" + b.work, "-v", tools + ":/benchtools:ro", "--entrypoint", "/benchtools/bench"}
	timing := filepath.Join(dir, "timing.json")
	timed := []string{"/benchtools/bench", "-time", timing, "--", "/mybuild/mybuild", "-q"}
	start := []string{"exec", "bench"}
	if fresh {
		// A container per build, removed after it.
		start = append(append([]string{"run", "--rm"}, volumes...), "mybuild:bench")
		timed = timed[1:]
	} else {
		// The container lives as long as the bench: this program sleeps
		// as its first process, and each build is a docker exec.
		if err := eng.docker(append(append([]string{"run", "-d", "--name", "bench"}, volumes...), "mybuild:bench", "-sleep")...); err != nil {
			return mode{}, err
		}
	}
	build := func(args ...string) (sample, error) {
		os.Remove(timing)
		cmd := eng.command(append(append(slices.Clone(start), timed...), args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return sample{}, fmt.Errorf("mybuild %s %v: %v\n%s", name, args, err, out)
		}
		return readTiming(timing)
	}
	return mode{name: name, build: build, dir: dir, prepare: func(string) error { return nil }}, nil
}

// timing is what -time writes.
type timing struct {
	WallNS int64 `json:"wall_ns"`
	MaxRSS int64 `json:"max_rss"`
	// UserNS and SysNS are the CPU time of the build and its children.
	UserNS int64 `json:"user_ns"`
	SysNS  int64 `json:"sys_ns"`
}

func readTiming(path string) (sample, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return sample{}, err
	}
	var t timing
	if err := json.Unmarshal(data, &t); err != nil {
		return sample{}, fmt.Errorf("%s: %w", path, err)
	}
	return sample{wall: time.Duration(t.WallNS), maxRSS: t.MaxRSS}, nil
}

// timeCommand is -time FILE -- CMD ARGS: it runs the command and writes
// its wall time and peak RSS to FILE.
func timeCommand(file string, args []string) error {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	data, _ := json.Marshal(timing{WallNS: time.Since(start).Nanoseconds(), MaxRSS: ru.Maxrss * 1024,
		UserNS: cmd.ProcessState.UserTime().Nanoseconds(), SysNS: cmd.ProcessState.SystemTime().Nanoseconds()})
	return os.WriteFile(file, data, 0o644)
}

// engine is a private Docker engine (Debian's docker.io), with its own
// data root under the work dir, no bridge and no iptables rules.
type engine struct {
	dir, host string
	cmd       *exec.Cmd
}

func startEngine(work string) (*engine, error) {
	// Short: the engine puts unix sockets below it.
	dir, err := os.MkdirTemp("", "bench-dockerd")
	if err != nil {
		return nil, err
	}
	e := &engine{dir: dir, host: "unix://" + filepath.Join(dir, "sock")}
	e.cmd = exec.Command("dockerd", "--data-root", filepath.Join(work, "in-place", "docker"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "pid"), "-H", e.host, "--bridge=none", "--iptables=false", "--ip6tables=false")
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("dockerd (apt-get install docker.io): %w", err)
	}
	for start := time.Now(); e.docker("version") != nil; time.Sleep(200 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			e.stop()
			return nil, fmt.Errorf("dockerd did not start")
		}
	}
	return e, nil
}

func (e *engine) command(args ...string) *exec.Cmd {
	return exec.Command("docker", append([]string{"-H", e.host}, args...)...)
}

func (e *engine) docker(args ...string) error {
	if out, err := e.command(args...).CombinedOutput(); err != nil {
		return fmt.Errorf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// stop removes the container and stops the engine.
func (e *engine) stop() {
	e.docker("rm", "-f", "bench")
	e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		e.cmd.Process.Kill()
		<-done
	}
	// The engine may leave the bind mount of its network namespace
	// (exec/netns/default) in place, which RemoveAll cannot remove.
	if mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(e.dir)); err == nil {
		slices.SortFunc(mounts, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
		for _, m := range mounts {
			syscall.Unmount(m.Mountpoint, syscall.MNT_DETACH)
		}
	}
	os.RemoveAll(e.dir)
}
