package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK    = 0
	exitBuild = 1 // the build failed
	exitUsage = 2 // bad flags or arguments
)

// version is set at link time: -ldflags "-X main.version=v1.2.3".
var version = ""

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef is a usageError; %w wraps an error, as in fmt.Errorf.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitError ends mybuild with its own exit code, after printing msg
// (none when empty): mybuild run exits as docker run does.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// errInterrupted is a build stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("build interrupted")

// streams are the standard streams a command works with. in is a file,
// for mybuild run to tell whether it is a terminal.
type streams struct {
	in       *os.File
	out, err io.Writer
	// argv is the program and its arguments, to run it again (rootless).
	argv []string
}

// run is the whole CLI; main only adds the process around it.
func run(args []string, stdout, stderr io.Writer) int {
	return execute(args, streams{in: os.Stdin, out: stdout, err: stderr, argv: append([]string{os.Args[0]}, args...)})
}

// runRun is mybuild run with the arguments after "run".
func runRun(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	return execute(append([]string{"run"}, args...), streams{in: stdin, out: stdout, err: stderr})
}

func execute(args []string, s streams) int {
	root := newRootCommand(s)
	args = routeArgs(root, args)
	cmd, _, err := root.Find(args)
	if err != nil {
		cmd = root
	}
	args = legacyFlags(cmd, args, s.err)
	root.SetArgs(args)
	return exitStatus(cmd, root.Execute(), s.err)
}

// routeArgs gives cobra the arguments of the old form, mybuild [flags]
// [CONTEXT], as mybuild build [flags] [CONTEXT]: a first argument that
// names a command is that command, and --help or -h alone asks for the
// help of mybuild itself. Anything else is a build.
func routeArgs(root *cobra.Command, args []string) []string {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	if len(args) == 1 && slices.Contains([]string{"-h", "--help", "-help"}, args[0]) {
		return []string{"--help"}
	}
	if len(args) > 0 {
		switch args[0] {
		case cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return args
		}
		for _, c := range root.Commands() {
			if c.Name() == args[0] || c.HasAlias(args[0]) {
				return args
			}
		}
	}
	return append([]string{"build"}, args...)
}

// exitStatus prints err, in one line, and tells the code mybuild exits
// with.
func exitStatus(cmd *cobra.Command, err error, stderr io.Writer) int {
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(stderr, "mybuild: %s\n", ee.msg)
		}
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mybuild: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(stderr, "mybuild: build interrupted")
		return exitBuild
	default:
		fmt.Fprintf(stderr, "mybuild: %v\n", err)
		return exitBuild
	}
}

// withInterrupt runs fn with a context that SIGINT and SIGTERM cancel;
// a failure once one came is errInterrupted.
func withInterrupt(fn func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := fn(ctx)
	if err != nil && ctx.Err() != nil {
		return errInterrupted
	}
	return err
}

// fromEnvironment reads the values of a repeatable flag such as -e or
// --build-arg: K=V, or K alone for K=(the value of K in the environment),
// left out when K is not set there, as docker does. flagName names the
// flag in errors.
func fromEnvironment(flagName string, values []string) ([]string, error) {
	var kvs []string
	for _, v := range values {
		k, _, hasValue := strings.Cut(v, "=")
		if k == "" {
			return nil, usagef("%s %q: missing name", flagName, v)
		}
		if !hasValue {
			env, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			v = k + "=" + env
		}
		kvs = append(kvs, v)
	}
	return kvs, nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// defaultCacheDir is $XDG_CACHE_HOME/mybuild, else ~/.cache/mybuild.
func defaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "mybuild")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "mybuild")
	}
	return filepath.Join(os.TempDir(), "mybuild-cache")
}

func requireRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("mybuild must run as root: it mounts overlayfs and creates namespaces")
	}
	return nil
}
