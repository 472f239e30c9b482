package parser

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/suggest"
)

// reservedStageNames are the names FROM and --from give a meaning of
// their own.
var reservedStageNames = map[string]bool{"context": true, "scratch": true}

// stageNames runs ReservedStageName (validateStageNames). Its other
// rule, DuplicateStageName, has no run here: mybuild refuses a duplicate
// stage name when it parses, an error where BuildKit warns.
func (r *lintRun) stageNames() {
	for _, st := range r.d.Stages {
		if reservedStageNames[st.Name] {
			r.lint.Run(&linter.RuleReservedStageName, st.from.Location, linter.RuleReservedStageName.Format(st.Name))
		}
	}
}

// commandCasing runs ConsistentInstructionCasing (validateCommandCasing):
// each instruction is all upper or all lower case, and as most are.
func (r *lintRun) commandCasing() {
	var lower, upper int
	count := func(name string) {
		switch name {
		case strings.ToLower(name):
			lower++
		case strings.ToUpper(name):
			upper++
		}
	}
	for _, st := range r.d.Stages {
		count(st.from.OrigCmd)
		for _, cmd := range st.Commands {
			count(cmd.Name())
		}
	}
	majorityLower := lower > upper
	check := func(name string, loc []bkparser.Range) {
		casing := ""
		if majorityLower && strings.ToLower(name) != name {
			casing = "lowercase"
		} else if !majorityLower && strings.ToUpper(name) != name {
			casing = "uppercase"
		}
		if casing != "" {
			r.lint.Run(&linter.RuleConsistentInstructionCasing, loc, linter.RuleConsistentInstructionCasing.Format(name, casing))
		}
	}
	for _, st := range r.d.Stages {
		check(st.from.OrigCmd, st.from.Location)
		for _, cmd := range st.Commands {
			check(cmd.Name(), cmd.Location())
		}
	}
}

// baseNamesWithDefaults runs InvalidDefaultArgInFrom
// (validateBaseImagesWithDefaultArgs): each FROM, with the global ARGs'
// defaults and no build arg, names a valid image.
func (r *lintRun) baseNamesWithDefaults() {
	env, _ := r.metaArgs(r.predefinedArgs(), nil)
	for _, st := range r.d.Stages {
		res, err := r.lex.ProcessWordWithMatches(st.BaseName, shell.EnvsFromSlice(env))
		if err != nil {
			return
		}
		if !r.validImageName(res.Result) {
			r.lint.Run(&linter.RuleInvalidDefaultArgInFrom, st.from.Location, linter.RuleInvalidDefaultArgInFrom.Format(st.BaseName))
		}
	}
}

// validImageName stands for distribution/reference.ParseNormalizedNamed,
// which BuildKit uses: the LintBaseNames check, else go-containerregistry's
// parser; both take an empty tag or digest ("alpine:") for none, so
// those are refused first.
func (r *lintRun) validImageName(s string) bool {
	if s == "" || strings.HasSuffix(s, ":") || strings.HasSuffix(s, "@") || strings.Contains(s, ":@") {
		return false
	}
	if r.o.validBase != nil {
		return r.o.validBase(s)
	}
	_, err := name.ParseReference(s)
	return err == nil
}

// from runs the rules of a FROM line (buildDispatchStates):
// UndefinedArgInFrom, RedundantTargetPlatform and
// FromPlatformFlagConstDisallowed, with the comments above the FROM
// applied to the linter.
func (r *lintRun) from(i int) {
	st := &r.d.Stages[i]
	lint := r.lint.WithMergedConfigFromComments(st.from.Comments)
	env := shell.EnvsFromSlice(r.global)
	res, err := r.lex.ProcessWordWithMatches(st.BaseName, env)
	r.undefinedFromArgs(res.Unmatched, st.from.Location, lint)
	if err != nil || st.Platform == "" {
		return
	}
	res, _ = r.lex.ProcessWordWithMatches(st.Platform, env)
	r.undefinedFromArgs(res.Unmatched, st.from.Location, lint)
	if len(res.Matched) == 1 && len(res.Unmatched) == 0 {
		if _, ok := res.Matched["TARGETPLATFORM"]; ok {
			if v, _ := env.Get("TARGETPLATFORM"); v == res.Result {
				lint.Run(&linter.RuleRedundantTargetPlatform, st.from.Location, linter.RuleRedundantTargetPlatform.Format(st.Platform))
			}
		}
	}
	r.constPlatform(st.Name, res, st.from.Location, lint)
}

// undefinedFromArgs is reportUnusedFromArgs: UndefinedArgInFrom for each
// variable of a FROM that no ARG declares, with a suggestion.
func (r *lintRun) undefinedFromArgs(unmatched map[string]struct{}, loc []bkparser.Range, lint *linter.Linter) {
	keys := sortedKeys(r.globalKeys)
	for _, arg := range sortedKeys(unmatched) {
		if _, ok := r.globalKeys[arg]; ok {
			continue
		}
		match, _ := suggest.Search(arg, keys, true)
		lint.Run(&linter.RuleUndefinedArgInFrom, loc, linter.RuleUndefinedArgInFrom.Format(arg, match))
	}
}

// constPlatform is reportConstPlatformDisallowed: a constant --platform
// whose OS and architecture the stage's name does not mention.
func (r *lintRun) constPlatform(stage string, res shell.ProcessWordResult, loc []bkparser.Range, lint *linter.Linter) {
	if len(res.Matched) > 0 || len(res.Unmatched) > 0 {
		return
	}
	parts := strings.Split(res.Result, "/")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return // the build fails on it
	}
	if strings.Contains(stage, parts[0]) || strings.Contains(stage, parts[1]) {
		return
	}
	lint.Run(&linter.RuleFromPlatformFlagConstDisallowed, loc, linter.RuleFromPlatformFlagConstDisallowed.Format(res.Result))
}

// neededStages are the stages whose commands are checked: all, or with a
// target, those it needs through FROM, COPY --from and RUN
// --mount=from=, as a build converts only those.
func (r *lintRun) neededStages() map[int]bool {
	needed := map[int]bool{}
	if !r.o.onlyTarget {
		for i := range r.d.Stages {
			needed[i] = true
		}
		return needed
	}
	t := -1
	if r.o.target != "" {
		t = r.stageIndex(r.o.target, len(r.d.Stages))
	}
	if t < 0 {
		t = len(r.d.Stages) - 1
	}
	var visit func(i int)
	visit = func(i int) {
		if i < 0 || needed[i] {
			return
		}
		needed[i] = true
		st := &r.d.Stages[i]
		if base, err := r.d.ExpandWord(st.BaseName, r.global); err == nil {
			visit(r.stageIndex(base, i))
		}
		for _, cmd := range st.Commands {
			for _, from := range CommandFroms(cmd) {
				visit(r.stageRef(from))
			}
		}
	}
	visit(t)
	return needed
}

// stageRef is the stage a --from names, by name or index; -1 for an image.
func (r *lintRun) stageRef(from string) int {
	if i := r.stageIndex(from, len(r.d.Stages)); i >= 0 {
		return i
	}
	for i := range r.d.Stages {
		if from == itoa(i) {
			return i
		}
	}
	return -1
}

// CommandFroms are the stages or images a command reads: the --from of
// COPY and the from= of RUN --mount.
func CommandFroms(cmd instructions.Command) []string {
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			return []string{c.From}
		}
	case *instructions.RunCommand:
		var out []string
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				out = append(out, m.From)
			}
		}
		return out
	}
	return nil
}
