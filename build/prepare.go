package build

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

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
	canonical := instructionKey{cmd: cmd}
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
		return &plan{kind: "env", inputs: canonical, createdBy: "ENV " + strings.Join(ch.Env, " "), change: ch}, nil
	case *instructions.UserCommand:
		return &plan{kind: "user", inputs: canonical, createdBy: "USER " + c.User, change: &ConfigChange{User: &c.User}}, nil
	case *instructions.CmdCommand:
		args := b.withShell(st, c.ShellDependantCmdLine)
		return &plan{kind: "cmd", inputs: canonical, createdBy: fmt.Sprintf("CMD %q", args), change: &ConfigChange{Cmd: &args}}, nil
	case *instructions.EntrypointCommand:
		args := b.withShell(st, c.ShellDependantCmdLine)
		ch := &ConfigChange{Entrypoint: &args, ClearCmd: !st.cmdSet}
		inputs := instructionKey{cmd: cmd, clearCmd: &ch.ClearCmd}
		return &plan{kind: "entrypoint", inputs: inputs, createdBy: fmt.Sprintf("ENTRYPOINT %q", args), change: ch}, nil
	case *instructions.LabelCommand:
		ch := &ConfigChange{}
		var text []string
		for _, kv := range c.Labels {
			ch.Labels = append(ch.Labels, [2]string{kv.Key, kv.Value})
			text = append(text, kv.String())
		}
		return &plan{kind: "label", inputs: canonical, createdBy: "LABEL " + strings.Join(text, " "), change: ch}, nil
	case *instructions.ExposeCommand:
		ports, err := exposedPorts(c.Ports)
		if err != nil {
			return nil, err
		}
		return &plan{kind: "expose", inputs: canonical, createdBy: fmt.Sprintf("EXPOSE %v", ports), change: &ConfigChange{ExposedPorts: ports}}, nil
	case *instructions.VolumeCommand:
		for _, v := range c.Volumes {
			if v == "" {
				return nil, fmt.Errorf("VOLUME specified can not be an empty string")
			}
		}
		return &plan{kind: "volume", inputs: canonical, createdBy: fmt.Sprintf("VOLUME %v", c.Volumes), change: &ConfigChange{Volumes: slices.Clone(c.Volumes)}}, nil
	case *instructions.StopSignalCommand:
		if err := checkSignal(c.Signal); err != nil {
			return nil, err
		}
		return &plan{kind: "stopsignal", inputs: canonical, createdBy: "STOPSIGNAL " + c.Signal, change: &ConfigChange{StopSignal: &c.Signal}}, nil
	case *instructions.ShellCommand:
		sh := slices.Clone(c.Shell)
		return &plan{kind: "shell", inputs: canonical, createdBy: fmt.Sprintf("SHELL %v", sh), change: &ConfigChange{Shell: &sh}}, nil
	case *instructions.HealthCheckCommand:
		hc := *c.Health
		return &plan{kind: "healthcheck", inputs: canonical, createdBy: fmt.Sprintf("HEALTHCHECK %+v", hc), change: &ConfigChange{Healthcheck: &hc}}, nil
	case *instructions.OnbuildCommand:
		return &plan{kind: "onbuild", inputs: canonical, createdBy: "ONBUILD " + c.Expression,
			change: &ConfigChange{OnBuild: []string{c.Expression}}, noHistory: true}, nil
	case *instructions.MaintainerCommand:
		return &plan{kind: "maintainer", inputs: canonical, createdBy: "MAINTAINER " + c.Maintainer, change: &ConfigChange{Author: &c.Maintainer}}, nil
	}
	return nil, fmt.Errorf("%s is not supported yet", strings.ToUpper(cmd.Name()))
}

// instructionKey keys a step on its instruction, in canonical form, and
// for an ENTRYPOINT on whether it clears the inherited CMD.
type instructionKey struct {
	cmd      instructions.Command
	clearCmd *bool
}

func (i instructionKey) addTo(k *cache.KeyBuilder) {
	k.String("instruction", parser.CanonicalString(i.cmd))
	if i.clearCmd != nil {
		k.String("clear_cmd", fmt.Sprint(*i.clearCmd))
	}
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
	return &plan{kind: "arg", createdBy: "ARG " + strings.Join(text, " "), args: &stageArgs{env: env, declared: declared}}, nil
}

func (b *builder) planCopyStep(ctx context.Context, st *stage, c *instructions.CopyCommand) (*plan, error) {
	link, err := linked(c.Link, c.Chown, c.Chmod)
	if err != nil {
		return nil, err
	}
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
	b.materials.noteCopy(cp)
	s := &copyStep{b: b, cp: cp, from: from}
	return &plan{kind: "copy", createdBy: copyHistory("COPY", c.Parents, c.Chown, c.Chmod, c.SourcesAndDest), inputs: s, layer: s, link: link}, nil
}

// copyStep is a COPY, planned.
type copyStep struct {
	b    *builder
	cp   *copyPlan
	from *stage // COPY --from a stage; nil for the context or an image
}

func (s *copyStep) addTo(k *cache.KeyBuilder) { s.cp.keyFields(k) }

// makeLayer collects the sources of a stage, which are known only once
// it is built, then writes every source into the root. The sources it
// adds (a stage's, the heredocs') are dropped again at its end: a COPY
// written before its base was unpacked may have to be written again (see
// writeBeforeBase).
func (s *copyStep) makeLayer(ctx context.Context, root rootfs.Root, _ StepInfo) error {
	planned, unmatched := s.cp.sources, s.cp.unmatched
	defer func() { s.cp.sources, s.cp.unmatched = planned, unmatched }()
	if s.from != nil {
		src, err := s.b.stack(ctx, s.from)
		if err != nil {
			return err
		}
		if err := s.cp.collect(fswrite.NewStage(src)); err != nil {
			return err
		}
	}
	cleanup, err := s.cp.addHeredocs(s.b.opts.Store)
	if err != nil {
		return err
	}
	defer cleanup()
	upper, lower := root.Files()
	s.cp.dirTime = s.b.dirTime
	return s.cp.write(ctx, upper, lower)
}

// planWorkdir sets the working dir and, as BuildKit does, creates it in a
// layer of its own, owned by the current USER, unless it is "/".
func (b *builder) planWorkdir(st *stage, c *instructions.WorkdirCommand) (*plan, error) {
	wd := normalizeWorkdir(st.img.Config.Config.WorkingDir, c.Path)
	w := workdirStep{dir: path.Clean(wd), user: st.img.Config.Config.User, dirTime: b.dirTime}
	p := &plan{kind: "workdir", createdBy: "WORKDIR " + wd, change: &ConfigChange{WorkingDir: &wd}, inputs: w}
	if wd != "/" {
		p.layer = w
	}
	return p, nil
}

// normalizeWorkdir is the working dir that WORKDIR dir gives after
// current, as BuildKit's system.NormalizeWorkdir makes it: a relative dir
// is joined to current (and so cleaned), an absolute one is kept as
// written, trailing slash and all.
func normalizeWorkdir(current, dir string) string {
	if current == "" {
		current = "/"
	}
	if !path.IsAbs(current) {
		current = path.Join("/", current)
	}
	if dir == "" {
		dir = current
	}
	if !path.IsAbs(dir) {
		dir = path.Join(current, dir)
	}
	return dir
}

// workdirStep is a WORKDIR, which makes the directory when it is missing.
// dirTime is as copyPlan's; it is no part of the key.
type workdirStep struct {
	dir, user string
	dirTime   time.Time
}

func (w workdirStep) addTo(k *cache.KeyBuilder) { k.String("workdir", w.dir).String("user", w.user) }

// makeLayer makes the directory and the missing ones above it, owned by
// the stage's USER.
func (w workdirStep) makeLayer(ctx context.Context, root rootfs.Root, _ StepInfo) error {
	upper, lower := root.Files()
	lower = lowerOf(ctx, lower)
	var o fswrite.Owner
	if w.user != "" {
		uid, gid, err := users.LookupChown(w.user, lower.ReadFile)
		if err != nil {
			return fmt.Errorf("user %s: %w", w.user, err)
		}
		o = fswrite.Owner{UID: uid, GID: gid}
	}
	var opts []fswrite.LayerOption
	if !w.dirTime.IsZero() {
		opts = append(opts, fswrite.WithDirTime(w.dirTime))
	}
	l := fswrite.NewLayer(upper, lower, opts...)
	dir, err := l.Resolve(w.dir)
	if err != nil {
		return err
	}
	if err := l.MkdirAll(dir, 0o755, o); err != nil {
		return err
	}
	return l.Finish()
}
