package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/parser"
	"github.com/mybuild/mybuild/sandbox"
)

// planRun plans a RUN: its key covers the command, the environment, the
// user, the working dir, the network and the platform.
func (b *builder) planRun(st *stage, c *instructions.RunCommand) (*plan, error) {
	network := b.opts.Network
	if n := instructions.GetNetwork(c); n != "" {
		var err error
		if network, err = sandbox.ParseNetwork(n); err != nil {
			return nil, err
		}
		if n == "default" {
			network = b.opts.Network
		}
	}
	cfg := st.img.Config.Config
	args := b.withShell(st, c.ShellDependantCmdLine)
	env := runEnv(st.env)
	workdir := cfg.WorkingDir
	if workdir == "" {
		workdir = "/"
	}
	platform := image.FormatPlatform(b.platform)
	return &plan{
		kind:      "run",
		createdBy: "RUN " + runCommandString(args, st.buildArgs, st.env),
		fields: func(k *cache.KeyBuilder) {
			k.String("instruction", parser.CanonicalString(c))
			k.Strings("args", args).Strings("env", env)
			k.String("user", cfg.User).String("workdir", workdir)
			k.String("network", string(network)).String("platform", platform)
		},
		write: func(ctx context.Context, upper string, lower *overlay.Stack, info StepInfo) error {
			scratch, err := b.opts.Store.TempDir("run-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(scratch)
			out := b.rep.StepOutput(info)
			err = sandbox.Run(ctx, sandbox.Spec{
				Lower: lower.Dirs(), Upper: upper, Scratch: scratch,
				Args: args, Env: append(env, b.args.proxyEnv()...), Dir: workdir, User: cfg.User,
				Network: network, Stdout: out, Stderr: out,
			})
			var exit *sandbox.ExitError
			if errors.As(err, &exit) {
				return fmt.Errorf("process %q did not complete successfully: %w", strings.Join(args, " "), err)
			}
			return err
		},
	}, nil
}
