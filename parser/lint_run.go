package parser

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// defaultPath is the PATH BuildKit gives a stage whose image sets none
// (util/system.DefaultPathEnvUnix).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lintRun is one run of the rules that BuildKit checks in dockerfile2llb,
// in its order: the stage names and the casing of the whole file, the
// base names with only the ARGs' defaults, each FROM, then each command
// of each stage, stage by stage, with the environment it runs in.
type lintRun struct {
	d    *Dockerfile
	lint *linter.Linter
	o    *lintOptions
	lex  *shell.Lex
	// global holds the predefined and global ARGs, as BuildKit's
	// globalArgs; globalKeys the names a FROM may use.
	global     []string
	globalKeys map[string]struct{}
	ignore     *patternmatcher.PatternMatcher
	images     map[string]*BaseImage
	// states are the stages' states after their commands, by index.
	states []*lintState
}

func newLintRun(d *Dockerfile, lint *linter.Linter, o *lintOptions) *lintRun {
	r := &lintRun{d: d, lint: lint, o: o, lex: d.lex(), images: map[string]*BaseImage{}}
	if o.platform.OS == "" {
		o.platform = ocispec.Platform{OS: "linux", Architecture: "amd64"}
	}
	if o.build.OS == "" {
		o.build = o.platform
	}
	if len(o.ignore) > 0 {
		// A bad pattern fails the build when the context is read; here it
		// only turns CopyIgnoredFile off.
		r.ignore, _ = patternmatcher.New(o.ignore)
	}
	return r
}

func (r *lintRun) run() {
	r.stageNames()
	r.commandCasing()
	r.baseNamesWithDefaults()
	r.globalArgs()
	needed := r.neededStages()
	r.states = make([]*lintState, len(r.d.Stages))
	for i := range r.d.Stages {
		r.from(i)
	}
	for i := range r.d.Stages {
		if needed[i] && r.o.basePlatforms {
			r.basePlatform(i)
		}
	}
	for i := range r.d.Stages {
		if needed[i] {
			r.dispatchStage(i)
		}
	}
}

// predefinedArgs are BuildKit's default args: the platforms and the
// target stage.
func (r *lintRun) predefinedArgs() []string {
	b, t := r.o.build, r.o.platform
	target := r.o.target
	if target == "" {
		target = r.d.Stages[len(r.d.Stages)-1].Name
	}
	if target == "" {
		target = "default"
	}
	env := []string{
		"BUILDPLATFORM=" + formatPlatform(b), "BUILDOS=" + b.OS, "BUILDOSVERSION=" + b.OSVersion,
		"BUILDARCH=" + b.Architecture, "BUILDVARIANT=" + b.Variant,
		"TARGETPLATFORM=" + formatPlatform(t), "TARGETOS=" + t.OS, "TARGETOSVERSION=" + t.OSVersion,
		"TARGETARCH=" + t.Architecture, "TARGETVARIANT=" + t.Variant,
		"TARGETSTAGE=" + target,
	}
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := r.o.buildArgs[k]; ok {
			env[i] = k + "=" + v
		}
	}
	return env
}

func formatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// metaArgs adds the global ARGs to env, as BuildKit's buildMetaArgs:
// a build arg's value, else the default expanded, else nothing. It also
// returns the names of the ARGs declared.
func (r *lintRun) metaArgs(env []string, buildArgs map[string]string) ([]string, map[string]struct{}) {
	declared := map[string]struct{}{}
	for _, cmd := range r.d.MetaArgs {
		for _, kv := range cmd.Args {
			declared[kv.Key] = struct{}{}
			v, ok := buildArgs[kv.Key]
			if !ok && kv.Value != nil {
				res, err := r.lex.ProcessWordWithMatches(*kv.Value, shell.EnvsFromSlice(env))
				if err != nil {
					return env, declared // the build fails on it
				}
				v, ok = res.Result, true
			}
			if ok {
				env = setEnv(env, kv.Key, v)
			}
		}
	}
	return env, declared
}

func (r *lintRun) globalArgs() {
	var declared map[string]struct{}
	r.global, declared = r.metaArgs(r.predefinedArgs(), r.o.buildArgs)
	r.globalKeys = declared
	for _, kv := range r.global {
		k, _, _ := strings.Cut(kv, "=")
		r.globalKeys[k] = struct{}{}
	}
}

// setEnv sets k in a "K=V" list, in place when it is there.
func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if key, _, _ := strings.Cut(kv, "="); key == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// stageIndex is the earlier stage a FROM or --from names, -1 if none.
func (r *lintRun) stageIndex(name string, before int) int {
	for i := before - 1; i >= 0; i-- {
		if r.d.Stages[i].Name != "" && strings.EqualFold(r.d.Stages[i].Name, name) {
			return i
		}
	}
	return -1
}
