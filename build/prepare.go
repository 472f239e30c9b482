package build

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/parser"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/users"
)

// prepare expands a command with the stage's environment and plans it.
// The history text of every instruction is BuildKit's, without its
// " # buildkit" marker.
func (b *builder) prepare(ctx context.Context, st *stage, cmd instructions.Command) (*plan, error) {
	if err := b.df.Expand(cmd, st.env); err != nil {
		return nil, err
	}
	canonical := func(k *cache.KeyBuilder) { k.String("instruction", parser.CanonicalString(cmd)) }
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return b.planRun(ctx, st, c)
	case *instructions.CopyCommand:
		return b.planCopyStep(ctx, st, c)
	case *instructions.WorkdirCommand:
		return b.planWorkdir(st, c)
	case *instructions.ArgCommand:
		return b.planArg(st, c)
	case *instructions.AddCommand:
		return b.planAdd(ctx, st, c)
	case *instructions.EnvCommand:
		ch := &ConfigChange{}
		for _, kv := range c.Env {
			ch.Env = append(ch.Env, kv.Key+"="+kv.Value)
		}
		return &plan{kind: "env", fields: canonical, createdBy: "ENV " + strings.Join(ch.Env, " "), change: ch}, nil
	case *instructions.UserCommand:
		return &plan{kind: "user", fields: canonical, createdBy: "USER " + c.User, change: &ConfigChange{User: &c.User}}, nil
	case *instructions.CmdCommand:
		args := b.withShell(st, c.ShellDependantCmdLine)
		return &plan{kind: "cmd", fields: canonical, createdBy: fmt.Sprintf("CMD %q", args), change: &ConfigChange{Cmd: &args}}, nil
	case *instructions.EntrypointCommand:
		args := b.withShell(st, c.ShellDependantCmdLine)
		ch := &ConfigChange{Entrypoint: &args, ClearCmd: !st.cmdSet}
		fields := func(k *cache.KeyBuilder) {
			canonical(k)
			k.String("clear_cmd", fmt.Sprint(ch.ClearCmd))
		}
		return &plan{kind: "entrypoint", fields: fields, createdBy: fmt.Sprintf("ENTRYPOINT %q", args), change: ch}, nil
	case *instructions.LabelCommand:
		ch := &ConfigChange{}
		var text []string
		for _, kv := range c.Labels {
			ch.Labels = append(ch.Labels, [2]string{kv.Key, kv.Value})
			text = append(text, kv.String())
		}
		return &plan{kind: "label", fields: canonical, createdBy: "LABEL " + strings.Join(text, " "), change: ch}, nil
	case *instructions.ExposeCommand:
		ports, err := exposedPorts(c.Ports)
		if err != nil {
			return nil, err
		}
		return &plan{kind: "expose", fields: canonical, createdBy: fmt.Sprintf("EXPOSE %v", ports), change: &ConfigChange{ExposedPorts: ports}}, nil
	case *instructions.VolumeCommand:
		for _, v := range c.Volumes {
			if v == "" {
				return nil, fmt.Errorf("VOLUME specified can not be an empty string")
			}
		}
		return &plan{kind: "volume", fields: canonical, createdBy: fmt.Sprintf("VOLUME %v", c.Volumes), change: &ConfigChange{Volumes: slices.Clone(c.Volumes)}}, nil
	case *instructions.StopSignalCommand:
		if err := checkSignal(c.Signal); err != nil {
			return nil, err
		}
		return &plan{kind: "stopsignal", fields: canonical, createdBy: "STOPSIGNAL " + c.Signal, change: &ConfigChange{StopSignal: &c.Signal}}, nil
	case *instructions.ShellCommand:
		sh := slices.Clone(c.Shell)
		return &plan{kind: "shell", fields: canonical, createdBy: fmt.Sprintf("SHELL %v", sh), change: &ConfigChange{Shell: &sh}}, nil
	case *instructions.HealthCheckCommand:
		hc := *c.Health
		return &plan{kind: "healthcheck", fields: canonical, createdBy: fmt.Sprintf("HEALTHCHECK %+v", hc), change: &ConfigChange{Healthcheck: &hc}}, nil
	case *instructions.OnbuildCommand:
		return &plan{kind: "onbuild", fields: canonical, createdBy: "ONBUILD " + c.Expression,
			change: &ConfigChange{OnBuild: []string{c.Expression}}, noHistory: true}, nil
	case *instructions.MaintainerCommand:
		return &plan{kind: "maintainer", fields: canonical, createdBy: "MAINTAINER " + c.Maintainer, change: &ConfigChange{Author: &c.Maintainer}}, nil
	}
	return nil, fmt.Errorf("%s is not supported yet", strings.ToUpper(cmd.Name()))
}

// withShell turns a shell-form command line into the config's shell (or
// /bin/sh -c) plus the line; an exec form stays as it is.
func (b *builder) withShell(st *stage, cl instructions.ShellDependantCmdLine) []string {
	if !cl.PrependShell {
		return slices.Clone(cl.CmdLine)
	}
	sh := st.img.Config.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(slices.Clone(sh), strings.Join(cl.CmdLine, " "))
}

// planArg gives each ARG its value and puts it in the stage's
// environment, not in the image config.
func (b *builder) planArg(st *stage, c *instructions.ArgCommand) (*plan, error) {
	var text []string
	var declared []instructions.KeyValuePairOptional
	env := st.env
	for _, kv := range c.Args {
		key := kv.Key // never expanded, as in BuildKit
		v, ok, err := b.args.resolve(b.df, kv, env)
		if err != nil {
			return nil, err
		}
		if ok {
			kv.Value = &v
			env = setEnv(env, key, v)
			text = append(text, key+"="+v)
		} else {
			kv.Value = nil
			text = append(text, key)
		}
		declared = append(declared, kv)
	}
	createdBy := "ARG " + strings.Join(text, " ")
	return &plan{
		kind:      "arg",
		createdBy: createdBy,
		after: func(st *stage) {
			st.env = env
			st.buildArgs = append(st.buildArgs, declared...)
		},
	}, nil
}

func (b *builder) planCopyStep(ctx context.Context, st *stage, c *instructions.CopyCommand) (*plan, error) {
	var from *stage
	if c.From != "" {
		var err error
		if from, err = b.fromStage(c.From); err != nil {
			return nil, err
		}
	}
	cp, err := b.planCopy(ctx, st, c, from)
	if err != nil {
		return nil, err
	}
	createdBy := copyHistory("COPY", c.Chown, c.Chmod, c.SourcesAndDest)
	return &plan{
		kind:      "copy",
		fields:    cp.keyFields,
		createdBy: createdBy,
		write: func(ctx context.Context, root rootfs.Root, _ StepInfo) error {
			upper, lower := root.Files()
			if from != nil {
				src, err := b.stack(ctx, from)
				if err != nil {
					return err
				}
				if err := cp.collect(fswrite.NewStage(src)); err != nil {
					return err
				}
			}
			cleanup, err := cp.addHeredocs(b.opts.Store)
			if err != nil {
				return err
			}
			defer cleanup()
			return cp.write(ctx, upper, lower)
		},
	}, nil
}

// planWorkdir sets the working dir and, as BuildKit does, creates it in a
// layer of its own, owned by the current USER, unless it is "/".
func (b *builder) planWorkdir(st *stage, c *instructions.WorkdirCommand) (*plan, error) {
	wd := c.Path
	if !path.IsAbs(wd) {
		wd = path.Join(st.img.Config.Config.WorkingDir, wd)
	}
	wd = path.Clean("/" + wd)
	user := st.img.Config.Config.User
	p := &plan{
		kind:      "workdir",
		createdBy: "WORKDIR " + wd,
		change:    &ConfigChange{WorkingDir: &wd},
		fields: func(k *cache.KeyBuilder) {
			k.String("workdir", wd).String("user", user)
		},
	}
	if wd == "/" {
		return p, nil
	}
	p.write = func(ctx context.Context, root rootfs.Root, _ StepInfo) error {
		upper, lower := root.Files()
		var o fswrite.Owner
		if user != "" {
			uid, gid, err := users.LookupChown(user, lower.ReadFile)
			if err != nil {
				return fmt.Errorf("user %s: %w", user, err)
			}
			o = fswrite.Owner{UID: uid, GID: gid}
		}
		w := fswrite.NewLayer(upper, lower)
		dir, err := w.Resolve(wd)
		if err != nil {
			return err
		}
		if err := w.MkdirAll(dir, 0o755, o); err != nil {
			return err
		}
		return w.Finish()
	}
	return p, nil
}
