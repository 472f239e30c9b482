package parser

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// checkArg is the build arg that replaces the "# check=" directive, as
// BuildKit's BUILDKIT_DOCKERFILE_CHECK does.
const checkArg = "BUILDKIT_DOCKERFILE_CHECK"

// LintWarning is one breach of a BuildKit lint rule. RuleName,
// Description and URL are the rule's own (linter.RuleXxx); Detail is its
// Format for this breach.
type LintWarning struct {
	RuleName    string
	Description string
	URL         string
	Detail      string
	// Location is where the breach is: the instruction's lines.
	Location []bkparser.Range
}

// Line is the first line of the breach, 0 if it has none.
func (w LintWarning) Line() int { return firstLine(w.Location) }

// Short is the warning on one line, as BuildKit reports it in a build's
// progress: "FromAsCasing: 'as' and 'FROM' keywords' casing do not match
// (line 1)".
func (w LintWarning) Short() string {
	return linter.LintFormatShort(w.RuleName, w.Detail, w.Line())
}

// LintResult is what Lint found.
type LintResult struct {
	File string // Dockerfile name, as given to Lint
	// Source is the Dockerfile's text, for printing the lines of a warning.
	Source   []byte
	Warnings []LintWarning // in line order
	// ErrorOnWarnings is set by "# check=error=true": warnings fail the
	// build, before any step.
	ErrorOnWarnings bool
	cfg             *linter.Config
}

// Skips reports whether "# check=skip=" (or the build arg that replaces
// it) turns the rule off: for a rule a builder checks itself, as a build
// does InvalidBaseImagePlatform when it pulls the image.
func (r *LintResult) Skips(rule string) bool {
	return r != nil && r.cfg != nil && (r.cfg.SkipAll || slices.Contains(r.cfg.SkipRules, rule))
}

// Err is the error that "# check=error=true" makes of the warnings,
// naming the rules and lines: nil without that directive, or without
// warnings.
func (r *LintResult) Err() error {
	if r == nil || !r.ErrorOnWarnings || len(r.Warnings) == 0 {
		return nil
	}
	var parts []string
	for _, w := range r.Warnings {
		parts = append(parts, fmt.Sprintf("%s (line %d)", w.RuleName, w.Line()))
	}
	return &Error{File: r.File, Line: r.Warnings[0].Line(),
		Err: fmt.Errorf("%w for rules: %s", ErrLint, strings.Join(parts, ", "))}
}

// ErrLint is wrapped by LintResult.Err, BuildKit's words for it.
var ErrLint = errors.New("lint violation found")

// LintOption sets an optional input of Lint.
type LintOption func(*lintOptions)

type lintOptions struct {
	buildArgs       map[string]string
	target          string
	onlyTarget      bool
	build, platform ocispec.Platform
	image           func(ref string, platform ocispec.Platform) *BaseImage
	basePlatforms   bool
	validBase       func(string) bool
	ignore          []string
}

// BaseImage is what the lint needs of a base image's config.
type BaseImage struct {
	Env   []string // "K=V"
	Shell []string // SHELL, for JSONArgsRecommended
	// Platform is the image config's, for InvalidBaseImagePlatform.
	Platform ocispec.Platform
}

// LintBuildArgs gives the --build-arg values: they define variables, and
// BUILDKIT_DOCKERFILE_CHECK among them replaces the "# check=" directive.
func LintBuildArgs(args map[string]string) LintOption {
	return func(o *lintOptions) { o.buildArgs = args }
}

// LintTarget limits the rules that BuildKit checks while it converts a
// stage (all but the FROM and naming rules) to the stages target ("": the
// last stage) needs, as a build does; without it, every stage is checked,
// as --check does.
func LintTarget(target string) LintOption {
	return func(o *lintOptions) { o.target, o.onlyTarget = target, true }
}

// LintPlatforms gives the build and target platforms, which the
// predefined ARGs (BUILDPLATFORM, TARGETPLATFORM, ...) hold.
func LintPlatforms(build, target ocispec.Platform) LintOption {
	return func(o *lintOptions) { o.build, o.platform = build, target }
}

// LintBaseImages gives the config of the image a FROM names, for
// UndefinedVar (the variables its environment defines) and
// JSONArgsRecommended (its SHELL). It is called only when needed, once
// per image and platform; it returns nil when the image cannot be read,
// and UndefinedVar then leaves the stage alone. Without this option an
// image's environment is taken to be PATH alone, as in most base images.
func LintBaseImages(fn func(ref string, platform ocispec.Platform) *BaseImage) LintOption {
	return func(o *lintOptions) { o.image = fn }
}

// LintBasePlatforms reads the config of every stage's base image
// (through LintBaseImages) to report InvalidBaseImagePlatform for one
// whose OS or architecture is not the stage's platform, as BuildKit does
// when it resolves base images. A build, which says so itself when it
// pulls the image, leaves it out; --check gives it.
func LintBasePlatforms() LintOption {
	return func(o *lintOptions) { o.basePlatforms = true }
}

// LintBaseNames gives the check of a base image name that
// InvalidDefaultArgInFrom applies, for a builder whose FROM takes more
// than image references (mybuild's transports: oci-archive:PATH, ...).
func LintBaseNames(valid func(name string) bool) LintOption {
	return func(o *lintOptions) { o.validBase = valid }
}

// LintIgnore gives the .dockerignore patterns of the build context, for
// CopyIgnoredFile.
func LintIgnore(patterns []string) LintOption {
	return func(o *lintOptions) { o.ignore = patterns }
}

// Lint runs BuildKit's Dockerfile lint rules over data, as docker buildx
// build --check does, with the "# check=" directive's skip=, error= and
// experimental= settings. The rules BuildKit's instruction parser runs
// come from it; the others, which BuildKit runs while converting the
// Dockerfile (dockerfile2llb), are redone here over the parsed file. A
// Dockerfile that Parse rejects is an error; so is a bad "# check=".
func Lint(name string, data []byte, opts ...LintOption) (*LintResult, error) {
	o := &lintOptions{}
	for _, opt := range opts {
		opt(o)
	}
	cfg, err := lintConfig(name, data, o.buildArgs)
	if err != nil {
		return nil, err
	}
	res := &LintResult{File: name, Source: data, ErrorOnWarnings: cfg.ReturnAsError, cfg: cfg}
	cfg.Warn = func(rule, description, url, detail string, location []bkparser.Range) {
		res.Warnings = append(res.Warnings, LintWarning{RuleName: rule, Description: description,
			URL: url, Detail: detail, Location: slices.Clone(location)})
	}
	lint := linter.New(cfg)
	d, err := parse(name, data, lint)
	if err != nil {
		return nil, err
	}
	if err := d.runLint(lint, o); err != nil {
		return nil, err
	}
	slices.SortStableFunc(res.Warnings, func(a, b LintWarning) int { return a.Line() - b.Line() })
	return res, nil
}

// runLint runs the rules of dockerfile2llb. As in parse, a panic in
// BuildKit's code (none is known; see FuzzParse) becomes an error.
func (d *Dockerfile) runLint(lint *linter.Linter, o *lintOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errorf(d.Name, 0, "internal error in BuildKit's Dockerfile front end: %v", r)
		}
	}()
	newLintRun(d, lint, o).run()
	return nil
}

// lintConfig reads the "# check=" directive, or the build arg that
// replaces it.
func lintConfig(name string, data []byte, buildArgs map[string]string) (*linter.Config, error) {
	v, _, loc, _ := bkparser.ParseDirective("check", data)
	line := firstLine(loc)
	if arg, ok := buildArgs[checkArg]; ok {
		v, line = arg, 0
	}
	cfg, err := linter.ParseLintOptions(v)
	if err != nil {
		return nil, &Error{File: name, Line: line, Err: fmt.Errorf("check directive: %w", err)}
	}
	return cfg, nil
}
