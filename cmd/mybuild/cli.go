package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
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
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run is the whole CLI; main only adds the process around it.
func run(args []string, stdout, stderr io.Writer) int {
	// mybuild run passes signals on to its command instead of stopping,
	// and exits as docker run does.
	if len(args) > 0 && args[0] == "run" {
		return runRun(args[1:], os.Stdin, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(args) > 0 && args[0] == "cache":
		err = runCache(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "inspect":
		err = runInspect(ctx, args[1:], stdout, stderr)
	default:
		err = runBuild(ctx, args, stdout, stderr)
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mybuild: %v\nRun 'mybuild --help' for usage.\n", err)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "mybuild: build interrupted")
		return exitBuild
	default:
		fmt.Fprintf(stderr, "mybuild: %v\n", err)
		return exitBuild
	}
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, as docker build allows.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
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

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

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
