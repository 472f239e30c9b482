package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/container"
	"github.com/mybuild/mybuild/sandbox"
	"github.com/mybuild/mybuild/transport"
	"github.com/spf13/cobra"
)

const runLong = `Runs the image's entrypoint and cmd (CMD replaces the cmd) in the sandbox
of RUN steps, with the image's env, working dir and user, and confined as
a RUN step is (Docker's default capabilities and seccomp profile, masked
/proc paths, no devices beyond /dev's own; --privileged lifts all that).
Changes go to a throwaway layer, removed afterwards. IMAGE is a registry
reference, or a local image: oci-archive:PATH[:REF], oci:DIR[:REF],
docker-archive:PATH[:NAME:TAG], or the path of an OCI archive or layout.
Flags stop at IMAGE.

stdin is always connected. When stdin and stdout are terminals, the
command gets a terminal of its own. Signals to mybuild are passed on to
the command (a third Ctrl-C kills it), and its exit code is mybuild's:
125 when mybuild itself fails, 126 when the command cannot be executed,
127 when it is not found.`

const runExample = `  mybuild run app.tar
  mybuild run -e DEBUG=1 -w /src --user app app.tar sh -c 'make test'
  mybuild run -it --network none debian:12 bash`

// Exit codes of mybuild run, as docker run's.
const (
	exitRunFailed     = 125 // mybuild itself failed
	exitNotExecutable = 126
	exitNotFound      = 127
)

// forwardedSignals are passed on to the command.
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// runOptions are the flags of mybuild run.
type runOptions struct {
	registryOptions
	cacheDir, network, workdir, user, entrypoint string
	env                                          []string
	tty                                          optionalBool
	interactive, privileged                      bool
	// entrypointSet tells --entrypoint "" from no --entrypoint.
	entrypointSet bool
}

// newRunCommand is mybuild run, which exits as docker run does: usage
// errors too are exit 125.
func newRunCommand(s streams) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:         "run [flags] IMAGE [CMD...]",
		Short:       "Run an image's command, as docker run --rm does",
		Long:        runLong,
		Example:     runExample,
		Annotations: map[string]string{stopsAtArgs: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.entrypointSet = cmd.Flags().Changed("entrypoint")
			return runExit(runContainer(o, args, s), s.err)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitRunFailed, msg: fmt.Sprintf("run: %v (see mybuild run --help)", err)}
	})
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.SortFlags = false
	fs.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables (K=V, or K to take it from the environment)")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container (default the image's)")
	fs.StringVarP(&o.user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\"; default the image's)")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image (and drop its cmd); \"\" clears it")
	f := fs.VarPF(&o.tty, "tty", "t", "Allocate a pseudo-TTY (default: when stdin and stdout are terminals); -t=false never")
	f.NoOptDefVal = "true"
	fs.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open: accepted for docker's sake, stdin is always connected")
	group(cmd, "Command flags", "env", "workdir", "user", "entrypoint", "tty", "interactive")
	fs.StringVar(&o.network, "network", "host", "Connect the command to a network: host or none")
	fs.BoolVar(&o.privileged, "privileged", false, "Run unconfined: every capability, no seccomp filter, writable /proc/sys and /sys (default: a RUN step's confinement)")
	group(cmd, "Sandbox flags", "network", "privileged")
	fs.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "The local cache directory")
	o.registryOptions.register(fs, "Run the image for this platform (os/arch[/variant]; default the host's)")
	group(cmd, "Image flags", "cache-dir", "platform", "pull", "insecure-registry")
	return cmd
}

// runExit maps what mybuild run ended with to docker run's exit codes:
// the command's own, or 125, 126, 127 for mybuild's failures, printed.
func runExit(err error, stderr io.Writer) error {
	var exit *sandbox.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit):
		if exit.Code == 0 {
			return nil
		}
		return &exitError{code: exit.Code}
	}
	code := exitRunFailed
	switch {
	case errors.Is(err, sandbox.ErrCommandNotFound):
		code = exitNotFound
	case errors.Is(err, sandbox.ErrNotExecutable):
		code = exitNotExecutable
	}
	return &exitError{code: code, msg: err.Error()}
}

func runContainer(o *runOptions, args []string, s streams) error {
	if len(args) == 0 {
		return errors.New("run: missing IMAGE (see mybuild run --help)")
	}
	ref, cmd := args[0], args[1:]
	cfg, err := o.config(cmd)
	if err != nil {
		return err
	}
	reg, err := o.settings(blobProgress(s.err))
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
		return cache.Open(ctx, o.cacheDir)
	}, func(s *cache.Store) { s.Close() })
	if errors.Is(err, container.ErrInterrupted) {
		return fmt.Errorf("%w while opening the cache", err)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	return o.start(store, ref, cfg, reg, s)
}

// start runs the container. Without a terminal of its own, the command
// does not get the user's either: the sandbox passes a terminal on
// through pipes.
func (o *runOptions) start(store *cache.Store, ref string, cfg container.Config, reg *registrySettings, s streams) error {
	cfg.Stdin, cfg.Stdout, cfg.Stderr = s.in, s.out, s.err
	if o.wantTTY(s.in, s.out) {
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		cfg.TTY = &container.Terminal{Resize: winch}
		if container.IsTerminal(s.in) {
			cfg.TTY.Host = s.in
		}
	}
	warn := func(w string) { fmt.Fprintf(s.err, "mybuild: warning: %s\n", w) }
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
func (o *runOptions) config(cmd []string) (container.Config, error) {
	cfg := container.Config{Cmd: cmd, WorkingDir: o.workdir, User: o.user, Privileged: o.privileged}
	var err error
	if cfg.Network, err = sandbox.ParseNetwork(o.network); err != nil {
		return cfg, fmt.Errorf("--network: %w", err)
	}
	if o.entrypointSet {
		cfg.Entrypoint = []string{}
		if o.entrypoint != "" {
			cfg.Entrypoint = []string{o.entrypoint}
		}
	}
	cfg.Env, err = fromEnvironment("-e", o.env)
	return cfg, err
}

// wantTTY is -t, or without it whether stdin and stdout are terminals.
func (o *runOptions) wantTTY(stdin *os.File, stdout io.Writer) bool {
	if o.tty.set {
		return o.tty.value
	}
	out, ok := stdout.(*os.File)
	return ok && stdin != nil && container.IsTerminal(stdin) && container.IsTerminal(out)
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

// optionalBool is a boolean flag that knows whether it was given.
type optionalBool struct{ set, value bool }

func (b *optionalBool) Type() string { return "bool" }

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
