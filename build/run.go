package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/parser"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
)

// planRun plans a RUN: its key covers the command (its security mode
// included), the environment, the user, the working dir, the network, the
// platform and the mounts.
func (b *builder) planRun(ctx context.Context, st *stage, c *instructions.RunCommand) (*plan, error) {
	if err := b.checkRun(c, mountTypes(c)); err != nil {
		return nil, err
	}
	network, err := b.runNetwork(c)
	if err != nil {
		return nil, err
	}
	security, err := b.runSecurity(c)
	if err != nil {
		return nil, err
	}
	cfg := st.img.Config.Config
	cl, pipes, err := heredocCommand(c)
	if err != nil {
		return nil, err
	}
	args := b.withShell(st, cl)
	env := sandbox.WithDefaultPath(st.env)
	workdir := cfg.WorkingDir
	if workdir == "" {
		workdir = "/"
	}
	platform := image.FormatPlatform(st.platform)
	mounts, err := b.planMounts(ctx, c, workdir)
	if err != nil {
		return nil, err
	}
	r := &runStep{b: b, c: c, args: args, env: env, user: cfg.User, workdir: workdir, network: network,
		platform: platform, pipes: pipes, mounts: mounts, security: security, next: st.runsAhead}
	for _, a := range st.buildArgs {
		r.argNames = append(r.argNames, a.Key)
	}
	return &plan{kind: "run", createdBy: "RUN " + runCommandString(args, st.buildArgs, st.env), inputs: r, layer: r}, nil
}

// runStep is a RUN, planned: what it runs, and how.
type runStep struct {
	b                       *builder
	c                       *instructions.RunCommand
	args, env               []string
	user, workdir, platform string
	network                 sandbox.Network
	pipes                   []sandbox.Pipe
	mounts                  []runMount
	security                sandbox.Security
	// argNames are the build args in scope, which env holds too.
	argNames []string
	// next: another RUN follows in the stage (sandbox.Process.Next).
	next bool
}

func (r *runStep) addTo(k *cache.KeyBuilder) {
	k.String("instruction", parser.CanonicalString(r.c))
	k.Strings("args", r.args).Strings("env", r.env)
	k.String("user", r.user).String("workdir", r.workdir)
	k.String("network", string(r.network)).String("platform", r.platform)
	for _, p := range r.pipes {
		k.Bytes("pipe:"+p.Name, p.Data)
	}
	defer k.Group(k.Group("mounts"))
	for _, m := range r.mounts {
		m.fields(k)
	}
}

// startAhead starts the step's sandbox init, where the driver can (see
// rootfs.Prestarter), while the build explains its miss and makes its
// root: its output goes to one writer, as makeLayer's does.
func (r *runStep) startAhead() {
	if ps, ok := r.b.driver.(rootfs.Prestarter); ok {
		ps.StartAhead(sandbox.Process{Network: r.network, Security: r.security, Stdout: io.Discard, Stderr: io.Discard})
	}
}

// makeLayer makes the mounts and runs the command in root.
func (r *runStep) makeLayer(ctx context.Context, root rootfs.Root, info StepInfo) error {
	sms, mountEnv, release, err := prepareMounts(ctx, r.mounts)
	if err != nil {
		return err
	}
	defer release()
	env := append(append(slices.Clone(r.env), r.b.args.proxyEnv()...), mountEnv...)
	if err := r.b.confirmBases(ctx); err != nil {
		return err
	}
	out := r.b.rep.StepOutput(info)
	err = root.Run(ctx, sandbox.Process{
		Args: r.args, Env: env, Dir: r.workdir, User: r.user,
		Network: r.network, Stdout: out, Stderr: out, Pipes: r.pipes, Mounts: sms,
		Security: r.security, Warn: r.b.warnOnce, Next: r.next,
	})
	var exit *sandbox.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("process %q did not complete successfully: %w", strings.Join(r.args, " "), err)
	}
	return err
}

// heredocCommand turns a RUN with heredocs into the command line to run,
// as BuildKit's dispatchRun does. A RUN that is one heredoc runs its body
// with the shell, or, when the body starts with #!, runs the body as a
// script from /dev/pipes/. Anything else (RUN <<EOF bash, several
// heredocs) is put back together as one script for the shell.
func heredocCommand(c *instructions.RunCommand) (instructions.ShellDependantCmdLine, []sandbox.Pipe, error) {
	cl := c.ShellDependantCmdLine
	if len(c.Files) == 0 {
		return cl, nil, nil
	}
	if len(cl.CmdLine) != 1 || !cl.PrependShell {
		return cl, nil, fmt.Errorf("heredocs need the shell form")
	}
	if bkparser.MustParseHeredoc(cl.CmdLine[0]) != nil {
		f := c.Files[0]
		data := f.Data
		if f.Chomp {
			data = bkparser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			cl.CmdLine = []string{"/dev/pipes/" + f.Name}
			return cl, []sandbox.Pipe{{Name: f.Name, Data: []byte(data), Mode: 0o755}}, nil
		}
		cl.CmdLine = []string{data}
		return cl, nil, nil
	}
	var b strings.Builder
	b.WriteString(cl.CmdLine[0])
	for _, f := range c.Files {
		b.WriteByte('\n')
		b.WriteString(f.Data)
		b.WriteString(f.Name)
	}
	cl.CmdLine = []string{b.String()}
	return cl, nil, nil
}

// prepareMounts makes the sandbox mounts of a step, and the environment
// they add (secrets given as env=, SSH_AUTH_SOCK).
func prepareMounts(ctx context.Context, mounts []runMount) ([]sandbox.Mount, []string, func(), error) {
	var out []sandbox.Mount
	var env []string
	var releases []func()
	release := func() {
		for _, r := range releases {
			r()
		}
	}
	for _, m := range mounts {
		p, err := m.prepare(ctx)
		if err != nil {
			release()
			return nil, nil, nil, err
		}
		if p.release != nil {
			releases = append(releases, p.release)
		}
		env = append(env, p.env...)
		if p.mount != nil {
			out = append(out, *p.mount)
		}
	}
	return out, env, release, nil
}
