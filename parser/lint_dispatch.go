package parser

import (
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/suggest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// lintState is what the rules see of a stage as its commands run, as
// BuildKit's dispatchState holds it.
type lintState struct {
	// env is the environment the Dockerfile made: BuildKit's PATH, ENVs,
	// ARGs with a value. The base image's is read only when a rule needs
	// it (image).
	env []string
	// args are the ARGs declared so far, set or not.
	args []instructions.KeyValuePairOptional
	// image is the base image's config, asked for when first needed; it
	// gives nil when the image cannot be read. nil for scratch.
	image      func() *BaseImage
	workdirSet bool
	shell      []string
	// cmd, entrypoint and healthcheck are where each was last set, for
	// MultipleInstructionsDisallowed; nil when not set in this stage.
	cmd, entrypoint, healthcheck []bkparser.Range
}

// start is the state a stage starts in: a copy of the stage it is built
// on (its environment, ARGs and WORKDIR, as BuildKit's init), or an
// image's, with BuildKit's PATH.
func (r *lintRun) start(i int) *lintState {
	st := &r.d.Stages[i]
	base, _ := r.d.ExpandWord(st.BaseName, r.global)
	if j := r.stageIndex(base, i); j >= 0 && r.states[j] != nil {
		b := r.states[j]
		return &lintState{env: slices.Clone(b.env), args: slices.Clone(b.args), image: b.image,
			workdirSet: b.workdirSet, shell: b.shell}
	}
	s := &lintState{env: []string{"PATH=" + defaultPath}}
	if !strings.EqualFold(base, "scratch") {
		s.image = func() *BaseImage { return r.image(base, st.Platform) }
	}
	return s
}

// image asks LintBaseImages for a base image's config, once per
// platform; platform is the FROM's --platform, unexpanded.
func (r *lintRun) image(ref, platform string) *BaseImage {
	if r.o.image == nil {
		return &BaseImage{}
	}
	p := r.stagePlatform(platform)
	key := ref + " " + formatPlatform(p)
	img, ok := r.images[key]
	if !ok {
		img = r.o.image(ref, p)
		r.images[key] = img
	}
	return img
}

// stagePlatform is the platform a stage is built for: its FROM's
// --platform (unexpanded here), else the target platform.
func (r *lintRun) stagePlatform(platform string) ocispec.Platform {
	p := r.o.platform
	if platform != "" {
		if v, err := r.d.ExpandWord(platform, r.global); err == nil {
			if parsed, err := image.ParsePlatform(v); err == nil {
				p = parsed
			}
		}
	}
	return p
}

// basePlatform is BuildKit's validateBaseImagePlatform, for stage i:
// InvalidBaseImagePlatform when the image its FROM names has another OS
// or architecture than the stage's platform. An image that cannot be
// read, or whose config names no platform, is left alone.
func (r *lintRun) basePlatform(i int) {
	st := &r.d.Stages[i]
	base, err := r.d.ExpandWord(st.BaseName, r.global)
	if err != nil || strings.EqualFold(base, "scratch") || r.stageIndex(base, i) >= 0 || r.o.image == nil {
		return
	}
	img := r.image(base, st.Platform)
	want := r.stagePlatform(st.Platform)
	if img == nil || img.Platform.OS == "" || img.Platform.Architecture == "" || image.SameOSArch(img.Platform, want) {
		return
	}
	// BuildKit's dispatch context's linter: the comments above the FROM
	// do not apply.
	r.lint.Run(&linter.RuleInvalidBaseImagePlatform, st.from.Location,
		linter.RuleInvalidBaseImagePlatform.Format(base, formatPlatform(want), formatPlatform(img.Platform)))
}

// dispatchStage runs the rules of each command of stage i (dispatch), with
// the comments above each command applied to the linter. An expansion
// that fails ends the stage's checks: the build reports it.
func (r *lintRun) dispatchStage(i int) {
	s := r.start(i)
	r.states[i] = s
	for _, cmd := range r.d.Stages[i].Commands {
		lint := r.lint.WithMergedConfigFromComments(cmd.Comments())
		if !r.expand(cmd, s, lint) {
			return
		}
		if !r.dispatch(cmd, s, lint) {
			return
		}
	}
}

// expand expands cmd's words as BuildKit does before it runs a command,
// reporting UndefinedVar for the variables that nothing defines.
func (r *lintRun) expand(cmd instructions.Command, s *lintState, lint *linter.Linter) bool {
	env := shell.EnvsFromSlice(s.env)
	if _, isArg := cmd.(*instructions.ArgCommand); !isArg {
		if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			err := ex.Expand(func(word string) (string, error) {
				out, unmatched, err := r.lex.ProcessWord(word, env)
				r.undefinedVars(cmd, s, env, unmatched, lint)
				return out, err
			})
			if err != nil {
				return false
			}
		}
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		raw := shell.NewLex('\\')
		raw.SkipProcessQuotes = true
		err := ex.ExpandRaw(func(word string) (string, error) {
			out, unmatched, err := raw.ProcessWord(word, env)
			r.undefinedVars(cmd, s, env, unmatched, lint)
			return out, err
		})
		if err != nil {
			return false
		}
	}
	return true
}

// nonEnvArgs are BuildKit's build args that never reach the environment.
var nonEnvArgs = map[string]bool{"BUILDKIT_SBOM_SCAN_CONTEXT": true, "BUILDKIT_SBOM_SCAN_STAGE": true}

// undefinedVars is reportUnmatchedVariables: UndefinedVar for each
// variable that neither the environment, the base image's included, nor a
// declared ARG defines, with the closest name as a suggestion. A base
// image that cannot be read silences it.
func (r *lintRun) undefinedVars(cmd instructions.Command, s *lintState, env shell.EnvGetter, unmatched map[string]struct{}, lint *linter.Linter) {
	for _, a := range s.args {
		delete(unmatched, a.Key)
	}
	if len(unmatched) == 0 {
		return
	}
	keys := env.Keys()
	if s.image != nil {
		img := s.image()
		if img == nil {
			return
		}
		for _, kv := range img.Env {
			k, _, _ := strings.Cut(kv, "=")
			delete(unmatched, k)
			keys = append(keys, k)
		}
	}
	for _, v := range sortedKeys(unmatched) {
		if nonEnvArgs[v] {
			continue
		}
		match, _ := suggest.Search(v, keys, true)
		lint.Run(&linter.RuleUndefinedVar, cmd.Location(), linter.RuleUndefinedVar.Format(v, match))
	}
}

// dispatch runs the rules of one command, and applies it to s.
func (r *lintRun) dispatch(cmd instructions.Command, s *lintState, lint *linter.Linter) bool {
	loc := cmd.Location()
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		for _, e := range c.Env {
			legacyKeyValue(e.NoDelim, c, lint)
			secretKey("ENV", e.Key, loc, lint)
			s.env = setEnv(s.env, e.Key, e.Value)
		}
	case *instructions.LabelCommand:
		for _, l := range c.Labels {
			legacyKeyValue(l.NoDelim, c, lint)
		}
	case *instructions.CmdCommand:
		usedOnce(c, &s.cmd, lint)
		r.jsonArgs(c, c.PrependShell, s, lint)
	case *instructions.EntrypointCommand:
		usedOnce(c, &s.entrypoint, lint)
		r.jsonArgs(c, c.PrependShell, s, lint)
	case *instructions.HealthCheckCommand:
		usedOnce(c, &s.healthcheck, lint)
	case *instructions.WorkdirCommand:
		if !s.workdirSet && !strings.HasPrefix(c.Path, "/") {
			lint.Run(&linter.RuleWorkdirRelativePath, loc, linter.RuleWorkdirRelativePath.Format(c.Path))
		}
		s.workdirSet = true
	case *instructions.ShellCommand:
		s.shell = c.Shell
	case *instructions.ArgCommand:
		return r.arg(c, s, lint)
	case *instructions.ExposeCommand:
		return r.expose(c, s, lint)
	case *instructions.CopyCommand:
		if c.From == "" {
			r.copyIgnored("Copy", c.SourcePaths, loc, lint)
		}
	case *instructions.AddCommand:
		r.copyIgnored("Add", c.SourcePaths, loc, lint)
	}
	return true
}

// legacyKeyValue is LegacyKeyValueFormat: "ENV K V" for "ENV K=V".
func legacyKeyValue(noDelim bool, cmd instructions.Command, lint *linter.Linter) {
	if noDelim {
		lint.Run(&linter.RuleLegacyKeyValueFormat, cmd.Location(), linter.RuleLegacyKeyValueFormat.Format(cmd.Name()))
	}
}

// usedOnce is validateUsedOnce: MultipleInstructionsDisallowed at the
// earlier CMD, ENTRYPOINT or HEALTHCHECK, which the later one overrides.
func usedOnce(cmd instructions.Command, last *[]bkparser.Range, lint *linter.Linter) {
	if *last != nil {
		lint.Run(&linter.RuleMultipleInstructionsDisallowed, *last, linter.RuleMultipleInstructionsDisallowed.Format(cmd.Name()))
	}
	*last = cmd.Location()
}

// jsonArgs is JSONArgsRecommended: a CMD or ENTRYPOINT in shell form,
// unless a SHELL (of the stage or its image) says what runs it.
func (r *lintRun) jsonArgs(cmd instructions.Command, shellForm bool, s *lintState, lint *linter.Linter) {
	if !shellForm || len(s.shell) > 0 {
		return
	}
	if s.image != nil {
		if img := s.image(); img != nil && len(img.Shell) > 0 {
			return
		}
	}
	lint.Run(&linter.RuleJSONArgsRecommended, cmd.Location(), linter.RuleJSONArgsRecommended.Format(cmd.Name()))
}

// arg is dispatchArg: SecretsUsedInArgOrEnv, then the ARG's value (a build
// arg, else its default expanded, else a global ARG's) into the
// environment.
func (r *lintRun) arg(c *instructions.ArgCommand, s *lintState, lint *linter.Linter) bool {
	for _, kv := range c.Args {
		secretKey("ARG", kv.Key, c.Location(), lint)
		v, hasValue := r.o.buildArgs[kv.Key]
		switch {
		case hasValue:
		case kv.Value != nil:
			env := shell.EnvsFromSlice(s.env)
			out, unmatched, err := r.lex.ProcessWord(*kv.Value, env)
			r.undefinedVars(c, s, env, unmatched, lint)
			if err != nil {
				return false
			}
			v, hasValue = out, true
		default:
			v, hasValue = shell.EnvsFromSlice(r.global).Get(kv.Key)
		}
		if hasValue && !nonEnvArgs[kv.Key] {
			s.env = setEnv(s.env, kv.Key, v)
		}
		s.args = append(s.args, kv)
	}
	return true
}

// secretWords and publicWords are BuildKit's words for a name that holds
// a secret, and for one that does not after all (getSecretsRegex).
var (
	secretWords = regexp.MustCompile(`(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)`)
	publicWords = regexp.MustCompile(`(?i)(?:_|^)(?:public|file|version)(?:_|$)`)
)

// secretKey is SecretsUsedInArgOrEnv: an ARG or ENV whose name says it
// holds a secret, which the image's config or history would keep.
func secretKey(instruction, key string, loc []bkparser.Range, lint *linter.Linter) {
	if secretWords.MatchString(key) && !publicWords.MatchString(key) {
		lint.Run(&linter.RuleSecretsUsedInArgOrEnv, loc, linter.RuleSecretsUsedInArgOrEnv.Format(instruction, key))
	}
}

// copyIgnored is validateCopySourcePath: CopyIgnoredFile for a source of
// the context that .dockerignore excludes. With an exclusion pattern
// ("!x") the rule is off, as in BuildKit: what it lets back in is too
// hard to tell statically.
func (r *lintRun) copyIgnored(verb string, sources []string, loc []bkparser.Range, lint *linter.Linter) {
	if r.ignore == nil || r.ignore.Exclusions() {
		return
	}
	for _, src := range sources {
		if strings.Contains(src, "://") || strings.HasPrefix(src, "git@") {
			continue // a URL or a git repository: not from the context
		}
		src = filepath.ToSlash(filepath.Clean(src))
		if (src == "." || src == "/") && !r.rootIgnored() {
			continue
		}
		if ok, err := r.ignore.MatchesOrParentMatches(src); err == nil && ok {
			lint.Run(&linter.RuleCopyIgnoredFile, loc, linter.RuleCopyIgnoredFile.Format(verb, src))
		}
	}
}

// rootIgnored is copySourceRootIgnored: a pattern excluding everything.
func (r *lintRun) rootIgnored() bool {
	for _, p := range r.ignore.Patterns() {
		if p.Exclusion() {
			continue
		}
		switch p.String() {
		case "*", "**", "**/*":
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]struct{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func itoa(i int) string { return strconv.Itoa(i) }
