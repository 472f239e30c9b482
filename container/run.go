package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
	"github.com/mybuild/mybuild/transport"
)

// ErrNoCommand is returned for an image without entrypoint or cmd when
// the caller gives no command either.
var ErrNoCommand = errors.New("no command: the image has no entrypoint or cmd, and none was given")

// Config says what to run and how. Empty fields take the image's values.
type Config struct {
	// Entrypoint replaces the image's entrypoint when not nil (an empty,
	// non-nil slice clears it), and the image's Cmd is then dropped too,
	// as with docker run --entrypoint.
	Entrypoint []string
	// Cmd replaces the image's Cmd when not empty.
	Cmd []string
	// Env is added to the image's environment, as K=V; a K the image sets
	// gets the new value.
	Env []string
	// WorkingDir is where the command starts (default the image's, else
	// "/"); it is created when missing.
	WorkingDir string
	// User is a USER value: name, uid, name:group or uid:gid.
	User string
	// Network defaults to the host's network.
	Network sandbox.Network
	// Privileged runs the command unconfined, as docker run --privileged
	// and RUN --security=insecure: every capability, no seccomp filter,
	// writable /proc/sys and /sys. By default it gets a RUN step's
	// confinement (see sandbox.SecuritySandbox).
	Privileged bool
	// Warn receives what the sandbox could not do but did not need to
	// fail for (see sandbox.Spec); nil drops it.
	Warn func(msg string)

	// Stdin is the command's input; nil means /dev/null.
	Stdin io.Reader
	// Stdout and Stderr receive its output; nil discards it. Without TTY,
	// a terminal among them reaches the command through a pipe only (see
	// sandbox.Spec).
	Stdout, Stderr io.Writer
	// TTY, when set, gives the command a terminal (see Terminal).
	TTY *Terminal
	// Signals stop the preparation (loading and unpacking the image) with
	// ErrInterrupted; once the command runs, each goes to it, and the
	// third SIGINT kills it (a PID 1 ignores signals it has no handler
	// for, as in docker).
	Signals <-chan os.Signal
}

// Run loads the image ref names into store (see transport.Load, which
// opts configure) and runs it (see RunImage). A signal while the image
// loads stops the load, with ErrInterrupted.
func Run(ctx context.Context, store *cache.Store, ref transport.Ref, cfg Config, opts ...transport.Option) error {
	ctx, r := newRelay(ctx, cfg.Signals)
	defer r.stop()
	img, err := transport.Load(ctx, ref, store, opts...)
	if err != nil {
		return orInterrupted(r, err)
	}
	return run(ctx, store, img, cfg, r)
}

// RunImage runs img's entrypoint and cmd, with its environment, working
// dir and user as cfg amends them, in the sandbox of RUN steps: an overlay
// of the image's layers, unpacked into store, with a throwaway upper dir.
// Whatever happens, the upper dir and the sandbox's scratch dir are
// removed before it returns; no process and no mount outlives it. The
// command's failure is a *sandbox.ExitError; a command that cannot start
// is a *sandbox.SetupError (wrapping sandbox.ErrCommandNotFound or
// sandbox.ErrNotExecutable when the command itself is at fault).
func RunImage(ctx context.Context, store *cache.Store, img *image.Image, cfg Config) error {
	ctx, r := newRelay(ctx, cfg.Signals)
	defer r.stop()
	return run(ctx, store, img, cfg, r)
}

func run(ctx context.Context, store *cache.Store, img *image.Image, cfg Config, r *relay) (err error) {
	args, err := command(img, cfg)
	if err != nil {
		return err
	}
	driver := rootfs.NewOverlay(store)
	var lower []rootfs.Layer
	for _, l := range img.Layers {
		u, err := driver.Unpack(ctx, l, lower)
		if err != nil {
			driver.Settle() // the layers before it; the unpack's error is the one told
			return orInterrupted(r, err)
		}
		lower = append(lower, u)
	}
	if err := driver.Settle(); err != nil {
		return err
	}
	root, err := driver.Root(ctx, lower)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := root.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("remove the container's files: %w", cerr)
		}
	}()
	sigs, err := r.start()
	if err != nil {
		return err
	}
	imgCfg := img.Config.Config
	p := sandbox.Process{
		Args:    args,
		Env:     environment(imgCfg.Env, cfg),
		Dir:     firstOf(cfg.WorkingDir, imgCfg.WorkingDir, "/"),
		User:    firstOf(cfg.User, imgCfg.User),
		Network: cfg.Network,
		Signals: sigs,
		Warn:    cfg.Warn,
	}
	if cfg.Privileged {
		p.Security = sandbox.SecurityInsecure
	}
	if cfg.TTY != nil {
		s := &session{t: cfg.TTY, in: cfg.Stdin, out: cfg.Stdout}
		p.Console = s.attach
		defer s.close()
	} else {
		p.Stdin, p.Stdout, p.Stderr = cfg.Stdin, cfg.Stdout, cfg.Stderr
	}
	return root.Run(ctx, p)
}

// orInterrupted is err, or ErrInterrupted when a signal caused it.
func orInterrupted(r *relay, err error) error {
	if ierr := r.err(); ierr != nil {
		return ierr
	}
	return err
}

// command is the entrypoint and cmd of docker run.
func command(img *image.Image, cfg Config) ([]string, error) {
	entrypoint, cmd := img.Config.Config.Entrypoint, img.Config.Config.Cmd
	if cfg.Entrypoint != nil {
		entrypoint, cmd = cfg.Entrypoint, nil
	}
	if len(cfg.Cmd) > 0 {
		cmd = cfg.Cmd
	}
	args := append(slices.Clone(entrypoint), cmd...)
	if len(args) == 0 {
		return nil, ErrNoCommand
	}
	return args, nil
}

// environment is the image's env with cfg.Env on top, a PATH when there
// is none, and TERM=xterm on a terminal, as docker run gives.
func environment(imageEnv []string, cfg Config) []string {
	env := slices.Clone(imageEnv)
	for _, kv := range cfg.Env {
		env = setEnv(env, kv)
	}
	if !hasEnv(env, "PATH") {
		env = append([]string{sandbox.DefaultPath}, env...) // first, as docker run
	}
	if cfg.TTY != nil && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	return env
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

func hasEnv(env []string, k string) bool {
	return slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
