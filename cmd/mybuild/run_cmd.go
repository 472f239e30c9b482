package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/container"
	"github.com/mybuild/mybuild/sandbox"
	"github.com/mybuild/mybuild/transport"
)

const runUsage = `Usage: mybuild run [flags] IMAGE [CMD...]

Runs the image's entrypoint and cmd (CMD replaces the cmd) in the sandbox
of RUN steps, with the image's env, working dir and user, and confined as
a RUN step is (Docker's default capabilities and seccomp profile, masked
/proc paths, no devices beyond /dev's own; --privileged lifts all that).
Changes go to a throwaway layer, removed afterwards. IMAGE is a registry reference, or a
local image: oci-archive:PATH[:REF], oci:DIR[:REF],
docker-archive:PATH[:NAME:TAG], or the path of an OCI archive or layout.
Flags stop at IMAGE.

stdin is always connected. When stdin and stdout are terminals, the
command gets a terminal of its own. Signals to mybuild are passed on to
the command (a third Ctrl-C kills it), and its exit code is mybuild's:
125 when mybuild itself fails, 126 when the command cannot be executed,
127 when it is not found.

Flags:
`

// Exit codes of mybuild run, as docker run's.
const (
	exitRunFailed     = 125 // mybuild itself failed
	exitNotExecutable = 126
	exitNotFound      = 127
)

// forwardedSignals are passed on to the command.
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

type runFlags struct {
	registryFlags
	cacheDir, network, workdir, user, entrypoint string
	env                                          stringList
	tty                                          optionalBool
	interactive, privileged                      bool
}

func newRunFlags(stderr io.Writer) (*flag.FlagSet, *runFlags) {
	f := &runFlags{}
	fs := flag.NewFlagSet("mybuild run", flag.ContinueOnError)
	// The flag package would print a bad flag's error and the whole usage:
	// runContainer prints the help itself, and an error in one line.
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.network, "network", "host", "network of the command: `host` or none")
	fs.Var(&f.env, "e", "set an environment variable: `K=V`, or K to take it from the environment; repeatable")
	fs.Var(&f.env, "env", "same as -e")
	fs.StringVar(&f.workdir, "w", "", "working `dir` (default the image's)")
	fs.StringVar(&f.workdir, "workdir", "", "same as -w")
	fs.StringVar(&f.user, "u", "", "`user`[:group] (default the image's)")
	fs.StringVar(&f.user, "user", "", "same as -u")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "replace the image's entrypoint with `CMD` (and drop its cmd); \"\" clears it")
	fs.Var(&f.tty, "t", "give the command a terminal (default: when stdin and stdout are terminals); -t=false never")
	fs.Var(&f.tty, "tty", "same as -t")
	fs.BoolVar(&f.interactive, "i", false, "accepted for docker's sake: stdin is always connected")
	fs.BoolVar(&f.interactive, "interactive", false, "same as -i")
	fs.BoolVar(&f.privileged, "privileged", false, "run the command unconfined: every capability, no seccomp filter, writable /proc/sys and /sys (default: a RUN step's confinement)")
	fs.StringVar(&f.cacheDir, "cache-dir", defaultCacheDir(), "cache `dir`")
	f.registryFlags.register(fs, "run the image for `os/arch[/variant]` (default the host's)")
	fs.Usage = func() {}
	return fs, f
}

func printRunUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, runUsage)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// runRun is mybuild run, with docker run's exit codes.
func runRun(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	err := runContainer(args, stdin, stdout, stderr)
	var exit *sandbox.ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &exit):
		return exit.Code
	}
	fmt.Fprintf(stderr, "mybuild: %v\n", err)
	switch {
	case errors.Is(err, sandbox.ErrCommandNotFound):
		return exitNotFound
	case errors.Is(err, sandbox.ErrNotExecutable):
		return exitNotExecutable
	}
	return exitRunFailed
}

func runContainer(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	fs, f := newRunFlags(stderr)
	if err := fs.Parse(splitShortFlags(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printRunUsage(fs, stderr)
			return err
		}
		return usagef("run: %v (see mybuild run --help)", err)
	}
	if fs.NArg() == 0 {
		return usagef("run: missing IMAGE (see mybuild run --help)")
	}
	ref, cmd := fs.Arg(0), fs.Args()[1:]
	cfg, err := f.config(fs, cmd)
	if err != nil {
		return err
	}
	reg, err := f.options(stderr)
	if err != nil {
		return err
	}
	if err := requireRoot(); err != nil {
		return err
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	cfg.Signals = sigs
	// Opening the cache may wait for a prune; a signal stops that.
	store, err := untilSignal(sigs, func(ctx context.Context) (*cache.Store, error) {
		return cache.Open(ctx, f.cacheDir)
	}, func(s *cache.Store) { s.Close() })
	if errors.Is(err, container.ErrInterrupted) {
		return fmt.Errorf("%w while opening the cache", err)
	}
	if err != nil {
		return err
	}
	defer store.Close()

	// Without a terminal of its own, the command does not get the user's
	// either: the sandbox passes a terminal on through pipes.
	cfg.Stdin, cfg.Stdout, cfg.Stderr = stdin, stdout, stderr
	if f.wantTTY(stdin, stdout) {
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		cfg.TTY = &container.Terminal{Resize: winch}
		if container.IsTerminal(stdin) {
			cfg.TTY.Host = stdin
		}
	}
	warn := func(w string) { fmt.Fprintf(stderr, "mybuild: warning: %s\n", w) }
	cfg.Warn = warn
	opts := []transport.Option{
		transport.WithPull(reg.pull),
		transport.WithRegistry(reg.opts...),
		transport.WithWarnings(warn),
	}
	if reg.platform.OS != "" {
		opts = append(opts, transport.WithPlatform(reg.platform))
	}
	// As before the transport package, a bad IMAGE fails here, as a
	// failed load does (exit 125), and not as a usage error.
	img, err := transport.ParseRefOrPath(ref)
	if err != nil {
		return err
	}
	return container.Run(context.Background(), store, img, cfg, opts...)
}

// config is the container.Config the flags and CMD ask for.
func (f *runFlags) config(fs *flag.FlagSet, cmd []string) (container.Config, error) {
	cfg := container.Config{Cmd: cmd, WorkingDir: f.workdir, User: f.user, Privileged: f.privileged}
	var err error
	if cfg.Network, err = sandbox.ParseNetwork(f.network); err != nil {
		return cfg, usagef("--network: %v", err)
	}
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "entrypoint" {
			cfg.Entrypoint = []string{}
			if f.entrypoint != "" {
				cfg.Entrypoint = []string{f.entrypoint}
			}
		}
	})
	cfg.Env, err = fromEnvironment("-e", f.env)
	return cfg, err
}

// wantTTY is -t, or without it whether stdin and stdout are terminals.
func (f *runFlags) wantTTY(stdin *os.File, stdout io.Writer) bool {
	if f.tty.set {
		return f.tty.value
	}
	out, ok := stdout.(*os.File)
	return ok && container.IsTerminal(stdin) && container.IsTerminal(out)
}

// untilSignal runs fn with a context that the first signal from sigs
// cancels, and fails with container.ErrInterrupted when one came, even
// after fn succeeded: release then undoes what fn did. A signal that
// comes once it returned stays in sigs.
func untilSignal[T any](sigs <-chan os.Signal, fn func(context.Context) (T, error), release func(T)) (T, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-sigs:
			cancel()
		case <-done:
		}
	}()
	v, err := fn(ctx)
	close(done)
	<-exited
	if ctx.Err() != nil {
		if err == nil {
			release(v)
		}
		var zero T
		return zero, container.ErrInterrupted
	}
	return v, err
}

// splitShortFlags turns docker's -it and -ti, before IMAGE, into -i -t.
func splitShortFlags(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args)+1)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			return append(out, args[i:]...)
		}
		if a == "-it" || a == "-ti" {
			out = append(out, "-i", "-t")
			continue
		}
		out = append(out, a)
		// A flag with a value in the next argument: skip the value.
		name := strings.TrimLeft(a, "-")
		if fl := fs.Lookup(name); fl != nil && !strings.Contains(name, "=") && !isBoolFlag(fl) && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

func isBoolFlag(fl *flag.Flag) bool {
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// optionalBool is a boolean flag that knows whether it was given.
type optionalBool struct{ set, value bool }

func (b *optionalBool) IsBoolFlag() bool { return true }

func (b *optionalBool) String() string {
	if b == nil || !b.set {
		return "auto"
	}
	return strconv.FormatBool(b.value)
}

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.set, b.value = true, v
	return nil
}
