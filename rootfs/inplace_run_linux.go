package rootfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/sandbox"
	"github.com/mybuild/mybuild/users"
	"golang.org/x/sys/unix"
)

// runInPlace runs p in the tree at root, as a RUN step of the in-place
// driver: chroot'ed there unless root is "/", as p's user, in p's working
// dir (made when missing), with the tree's own /proc, /dev and /sys. The
// builder is a child subreaper, so what the step's processes leave behind
// comes back to it, and is killed once the step's command exits: there is
// no PID namespace to end with the step.
func runInPlace(ctx context.Context, root string, keep *keepSet, p sandbox.Process) error {
	switch {
	case len(p.Mounts) > 0:
		return fmt.Errorf("RUN --mount: %w", errNotSupported)
	case p.Network == sandbox.NetworkNone:
		return fmt.Errorf("network none: %w", errNotSupported)
	case p.Console != nil:
		return fmt.Errorf("a terminal: %w", errNotSupported)
	}
	read := func(name string) ([]byte, error) {
		host, err := securejoin.SecureJoin(root, name)
		if err != nil {
			return nil, err
		}
		return os.ReadFile(host)
	}
	u, err := users.LookupExec(p.User, read)
	if err != nil {
		return &sandbox.SetupError{Msg: err.Error()}
	}
	dir := p.Dir
	if dir == "" {
		dir = "/"
	}
	if err := makeWorkdir(root, dir, u); err != nil {
		return &sandbox.SetupError{Msg: fmt.Sprintf("working directory %s: %v", dir, err)}
	}
	env := sandbox.WithDefaultPath(p.Env)
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	argv0, err := lookPathIn(root, p.Args[0], env)
	if err != nil {
		return err
	}
	removePipes, err := writePipes(root, p.Pipes)
	if err != nil {
		return err
	}
	defer removePipes()
	return runReaped(ctx, root, argv0, dir, env, u, p)
}

// makeWorkdir makes the missing levels of dir, 0755 and owned by the
// step's user, as the sandbox does.
func makeWorkdir(root, dir string, u users.Exec) error {
	l := fswrite.NewLayer(root, overlay.NewStack())
	resolved, err := l.Resolve(dir)
	if err != nil {
		return err
	}
	if err := l.MkdirAll(resolved, 0o755, fswrite.Owner{UID: u.UID, GID: u.GID}); err != nil {
		return err
	}
	return l.Finish()
}

// lookPathIn finds file in the PATH of env, inside the tree at root; it
// returns its path inside the tree.
func lookPathIn(root, file string, env []string) (string, error) {
	candidates := []string{file}
	if !strings.Contains(file, "/") {
		candidates = nil
		pathEnv := ""
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				pathEnv = v
			}
		}
		for _, d := range filepath.SplitList(pathEnv) {
			candidates = append(candidates, path.Join("/", d, file))
		}
	}
	for _, c := range candidates {
		host, err := securejoin.SecureJoin(root, c)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(host); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	if strings.Contains(file, "/") {
		return "", &sandbox.SetupError{Msg: fmt.Sprintf("exec %s: no such file or executable", file), Err: sandbox.ErrCommandNotFound}
	}
	return "", &sandbox.SetupError{Msg: fmt.Sprintf("exec: %q: executable file not found in $PATH", file), Err: sandbox.ErrCommandNotFound}
}

// writePipes makes the step's /dev/pipes files in the tree's /dev, which
// no diff reads; remove takes them away.
func writePipes(root string, pipes []sandbox.Pipe) (remove func(), err error) {
	if len(pipes) == 0 {
		return func() {}, nil
	}
	dir := filepath.Join(root, "dev", "pipes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	remove = func() {
		for _, p := range pipes {
			os.Remove(filepath.Join(dir, p.Name))
		}
	}
	for _, p := range pipes {
		if err := os.WriteFile(filepath.Join(dir, p.Name), p.Data, p.Mode.Perm()); err != nil {
			remove()
			return nil, err
		}
	}
	return remove, nil
}

// stepUmask is the umask of a step, as the sandbox's init sets it: a
// step in place would otherwise inherit the builder's (a CI job's umask
// 077), and make its files with other modes than in the other modes.
const stepUmask = 0o022

// withStepUmask gives the process stepUmask until the returned function
// restores its own: what the step's processes make, and what placing its
// mounts makes, is made with it. The driver runs one step at a time.
func withStepUmask() (restore func()) {
	//	umask 022
	old := unix.Umask(stepUmask)
	return func() { unix.Umask(old) }
}

// subreaper makes the builder a child subreaper, once.
var subreaper = sync.OnceValue(func() error {
	//	prctl(PR_SET_CHILD_SUBREAPER, 1)
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
})

// runReaped runs the command in a session of its own and waits for it,
// then kills and reaps every process it left: those of its session, and
// those orphaned to the builder since it started.
func runReaped(ctx context.Context, root, argv0, dir string, env []string, u users.Exec, p sandbox.Process) error {
	if err := subreaper(); err != nil {
		return fmt.Errorf("become a subreaper: %w", err)
	}
	groups := make([]uint32, len(u.Groups))
	copy(groups, u.Groups)
	cmd := exec.CommandContext(ctx, argv0)
	cmd.Path, cmd.Args, cmd.Env, cmd.Dir = argv0, p.Args, env, dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.Stdin, p.Stdout, p.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:     true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: groups},
	}
	if root != "/" {
		cmd.SysProcAttr.Chroot = root
	}
	before := orphans()
	if err := cmd.Start(); err != nil {
		return commandError(p.Args[0], err)
	}
	err := cmd.Wait()
	killLeftovers(cmd.Process.Pid, before)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return &sandbox.ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
		}
		return &sandbox.ExitError{Code: ws.ExitStatus()}
	}
	return err
}

// commandError is the setup error of a command that could not start.
func commandError(name string, err error) error {
	se := &sandbox.SetupError{Msg: fmt.Sprintf("exec %s: %v", name, err)}
	switch {
	case errors.Is(err, syscall.ENOENT):
		se.Err = sandbox.ErrCommandNotFound
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC):
		se.Err = sandbox.ErrNotExecutable
	}
	return se
}

// orphans are the processes whose parent is the builder now.
func orphans() map[int]bool {
	out := map[int]bool{}
	self := os.Getpid()
	for _, s := range procStats() {
		if s.ppid == self {
			out[s.pid] = true
		}
	}
	return out
}

// killLeftovers kills and reaps, until none is left, the processes of
// session sid, and the builder's children that before did not hold (the
// step's daemons, orphaned to the builder).
func killLeftovers(sid int, before map[int]bool) {
	self := os.Getpid()
	for range 100 {
		var left []int
		for _, s := range procStats() {
			if s.sid == sid || (s.ppid == self && !before[s.pid]) {
				left = append(left, s.pid)
			}
		}
		if len(left) == 0 {
			return
		}
		for _, pid := range left {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		for _, pid := range left {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

// procStat is what /proc/PID/stat says of a process's family.
type procStat struct{ pid, ppid, sid int }

func procStats() []procStat {
	entries, _ := os.ReadDir("/proc")
	var out []procStat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...; comm may hold spaces.
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 4 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		sid, _ := strconv.Atoi(f[3])
		out = append(out, procStat{pid: pid, ppid: ppid, sid: sid})
	}
	return out
}

// hasEnv tells whether env sets key.
func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}
