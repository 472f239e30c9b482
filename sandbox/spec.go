package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
)

// DefaultPath is the PATH of a process whose environment has none, as
// BuildKit gives a RUN step and docker run a container.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// WithDefaultPath is env, with DefaultPath added when it sets no PATH.
func WithDefaultPath(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append(slices.Clone(env), DefaultPath)
}

// Network selects the network namespace of a step.
type Network string

const (
	// NetworkHost shares the builder's network namespace.
	NetworkHost Network = "host"
	// NetworkNone gives the step a fresh network namespace with only lo.
	NetworkNone Network = "none"
)

// ParseNetwork parses a --network value. "default" and "" mean host.
func ParseNetwork(s string) (Network, error) {
	switch s {
	case "", "default", "host":
		return NetworkHost, nil
	case "none":
		return NetworkNone, nil
	}
	return "", fmt.Errorf("unknown network mode %q (want host or none)", s)
}

// Security is how a sandboxed process is confined, as RUN --security.
type Security string

const (
	// SecuritySandbox confines the process as Docker and BuildKit confine a
	// container: Docker's default capabilities (none for a user other than
	// root), its default seccomp profile, masked and read-only /proc paths,
	// a read-only /sys, and a device cgroup that lets it open only the
	// nodes of the sandbox's own /dev.
	SecuritySandbox Security = "sandbox"
	// SecurityInsecure is docker run --privileged: every capability the
	// builder has, no seccomp filter, writable /proc/sys and /sys, and the
	// host's kmsg, fuse, kvm, tun and loop devices.
	SecurityInsecure Security = "insecure"
)

// ParseSecurity parses a RUN --security value; "" means sandbox.
func ParseSecurity(s string) (Security, error) {
	switch s {
	case "", "sandbox":
		return SecuritySandbox, nil
	case "insecure":
		return SecurityInsecure, nil
	}
	return "", fmt.Errorf("unknown security mode %q (want sandbox or insecure)", s)
}

// Spec is one sandboxed process and the overlay root it runs on.
type Spec struct {
	// Lower are the read-only layer directories, newest first.
	Lower []string
	// Upper receives every change the process makes. It must exist.
	Upper string
	// Scratch is an empty directory on the same filesystem as Upper that the
	// sandbox may use for the overlay work dir and its mount points. Run
	// empties it before returning.
	Scratch string
	Process
}

// Process is what runs in the sandbox, and how it is confined: all of a
// Spec but its root. With Console or Signals set, the process runs in a
// session of its own, so that signals reach it only from its terminal or
// through Signals, never from the builder's terminal.
type Process struct {
	// Args is the command; Args[0] is looked up in the PATH of Env inside the
	// root when it has no slash.
	Args []string
	// Env is the process environment. HOME is added when missing.
	Env []string
	// Dir is the working directory inside the root, created when missing.
	Dir string
	// User is a USER value: "", "name", "uid", "name:group", "uid:gid".
	User string
	// Network defaults to NetworkHost.
	Network Network
	// Hostname defaults to "mybuild".
	Hostname string
	// Stdin is the process input; nil means /dev/null. An *os.File is
	// handed to the process as is; any other reader is copied to it
	// through a pipe, and Run does not wait for that copy to end.
	Stdin io.Reader
	// Stdout and Stderr receive the process output; nil discards it. An
	// *os.File is handed to the process as is; what it writes to any other
	// writer comes through a pipe.
	//
	// A file of Stdin, Stdout or Stderr that is a terminal goes through a
	// pipe too: with the descriptor of the user's terminal, the command
	// could type into the user's shell (TIOCSTI). Console gives it a
	// terminal of its own.
	Stdout, Stderr io.Writer
	// Console, when set, gives the process a terminal, as runc's console
	// socket does: the sandbox opens a pseudo-terminal in the root's own
	// /dev/pts, makes its slave the process's stdin, stdout, stderr and
	// controlling terminal, and calls Console with the master before the
	// command starts (the command waits until Console returns, so a window
	// size set there is the first it sees). Console owns master: it copies
	// between master and the user's terminal, and closes it once reading
	// it fails, which happens when every process in the sandbox is gone.
	// Stdin, Stdout and Stderr are not used then.
	Console func(master *os.File) error
	// Signals are sent to the process as they arrive, from the moment the
	// command runs until it exits (earlier ones wait in the channel).
	// The command is PID 1 of its namespace: like any such init, it does
	// not get a signal it has no handler for, SIGKILL excepted.
	Signals <-chan os.Signal
	// Pipes are files made in /dev/pipes/, on the sandbox's private /dev
	// tmpfs: they exist for this process only and never reach a layer
	// (BuildKit runs a heredoc starting with #! from there).
	Pipes []Pipe
	// Mounts are mounted in order; a target may lie inside an earlier one.
	Mounts []Mount
	// Next says that another step will run after this one: a Starter
	// starts that step's init while this one runs. Run ignores it.
	Next bool
	// Security defaults to SecuritySandbox.
	Security Security
	// Warn, when set, receives what the sandbox could not do but did not
	// need to fail for: where no device cgroup can be made, for instance,
	// and something else bounds the devices a process can open.
	Warn func(msg string)
}

// Pipe is a file in /dev/pipes/.
type Pipe struct {
	Name string
	Data []byte
	Mode fs.FileMode
}

// ExitError reports a step whose process did not exit with status 0.
type ExitError struct {
	// Code is the exit status, or 128+signal when killed by a signal.
	Code   int
	Signal syscall.Signal
}

func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal %d (%s)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// SetupError reports a failure to prepare the sandbox or to start the
// command (for example an executable that is not found), before the
// command ran.
type SetupError struct {
	Msg string
	// Err is ErrCommandNotFound or ErrNotExecutable when the command
	// itself could not be started, else nil.
	Err error
}

func (e *SetupError) Error() string { return e.Msg }

func (e *SetupError) Unwrap() error { return e.Err }

// Why a command could not be started; a SetupError wraps them. Shells and
// docker run exit 127 and 126 for them.
var (
	ErrCommandNotFound = errors.New("command not found")
	ErrNotExecutable   = errors.New("command not executable")
)

func (s *Spec) validate() error {
	switch {
	case len(s.Args) == 0:
		return errors.New("sandbox: no command")
	case s.Upper == "" || s.Scratch == "":
		return errors.New("sandbox: upper and scratch dirs are required")
	}
	if s.Network == "" {
		s.Network = NetworkHost
	}
	if s.Hostname == "" {
		s.Hostname = "mybuild"
	}
	if s.Security == "" {
		s.Security = SecuritySandbox
	}
	if s.Security != SecuritySandbox && s.Security != SecurityInsecure {
		return fmt.Errorf("sandbox: unknown security mode %q", s.Security)
	}
	if s.Warn == nil {
		s.Warn = func(string) {}
	}
	if s.Dir == "" {
		s.Dir = "/"
	}
	for i := range s.Mounts {
		if err := s.Mounts[i].validate(); err != nil {
			return err
		}
	}
	for _, p := range s.Pipes {
		if p.Name == "" || strings.ContainsAny(p.Name, "/\x00") || p.Name == "." || p.Name == ".." {
			return fmt.Errorf("sandbox: bad pipe file name %q", p.Name)
		}
	}
	return nil
}
