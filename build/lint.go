package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/parser"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Check runs BuildKit's Dockerfile lint rules over the Dockerfile of
// opts, as docker buildx build --check does, and builds nothing: every
// stage is checked, or with a Target the stages it needs. Of each base
// image, only the config is read (every one, for
// InvalidBaseImagePlatform), and nothing is stored; opts.Store may be
// nil.
func Check(ctx context.Context, opts Options) (*parser.LintResult, error) {
	data, err := os.ReadFile(opts.Dockerfile)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	platform := opts.Platform
	if platform.OS == "" {
		platform = image.HostPlatform()
	}
	lintOpts := append(lintOptions(ctx, opts, platform), parser.LintBasePlatforms())
	if opts.Target != "" {
		lintOpts = append(lintOpts, parser.LintTarget(opts.Target))
	}
	return parser.Lint(filepath.Base(opts.Dockerfile), data, lintOpts...)
}

// lint reports the lint warnings of a build, as docker build does, for
// the stages the target needs; with "# check=error=true", warnings fail
// the build here, before any step.
func (b *builder) lint(ctx context.Context, data []byte) error {
	opts := append(lintOptions(ctx, b.opts, b.platform), parser.LintTarget(b.opts.Target))
	res, err := parser.Lint(b.df.Name, data, opts...)
	if err != nil {
		return err
	}
	b.lintResult = res
	for _, w := range res.Warnings {
		b.rep.Warning(w.Short())
	}
	return res.Err()
}

// lintOptions are the inputs of the lint rules: build args, platforms,
// the context's .dockerignore, and base images read through transport.
func lintOptions(ctx context.Context, opts Options, platform ocispec.Platform) []parser.LintOption {
	lintOpts := []parser.LintOption{
		parser.LintBuildArgs(opts.BuildArgs),
		parser.LintPlatforms(image.HostPlatform(), platform),
		parser.LintBaseImages(func(ref string, p ocispec.Platform) *parser.BaseImage {
			return lintBaseImage(ctx, opts, ref, p)
		}),
		parser.LintBaseNames(func(name string) bool {
			r, err := transport.Parse(name)
			return err == nil && transport.Check(r) == nil
		}),
	}
	// A .dockerignore that cannot be read fails the build when the
	// context is opened; here it only leaves CopyIgnoredFile out.
	if patterns, err := buildcontext.IgnorePatterns(opts.Context, opts.Dockerfile); err == nil {
		lintOpts = append(lintOpts, parser.LintIgnore(patterns))
	}
	return lintOpts
}

// lintInspectTimeout bounds the reading of one base image's config.
const lintInspectTimeout = 15 * time.Second

// lintBaseImage reads the config of a FROM's image, as BuildKit resolves
// it before converting a stage: manifests and config only, nothing
// stored; for a registry image the store holds whole as its tag named it
// last, that image's, with no request. nil when it cannot be read
// (offline, a named build context, a registry image with --pull=never):
// the lint then leaves the stage's variables alone.
func lintBaseImage(ctx context.Context, opts Options, ref string, p ocispec.Platform) *parser.BaseImage {
	if _, named := contextsByKey(opts.Contexts)[contextKey(ref)]; named {
		return nil
	}
	r, err := transport.Parse(ref)
	if err != nil || (r.Transport == transport.Docker && opts.Pull == registry.PullNever) {
		return nil // --pull=never: no registry is asked
	}
	if opts.Store != nil {
		// What the tag named last, whole in the store, is the image the
		// build goes on with while its registry is asked (startLoads):
		// the lint reads that config rather than ask for it again.
		img, _, ok := transport.Recorded(r, opts.Store, transport.WithPlatform(p), transport.WithPull(opts.Pull),
			transport.WithRegistry(opts.Registry...))
		if ok {
			cfg := img.Config.Config
			return &parser.BaseImage{Env: cfg.Env, Shell: cfg.Shell, Platform: img.Platform()}
		}
	}
	// A registry that does not answer soon costs the lint one rule, not
	// the build its time: the build's own pull says what is wrong.
	ctx, cancel := context.WithTimeout(ctx, lintInspectTimeout)
	defer cancel()
	insp, err := transport.Inspect(ctx, r, transport.WithPlatform(p), transport.WithRegistry(opts.Registry...))
	if err != nil {
		return nil
	}
	cfg := insp.Image.Config
	return &parser.BaseImage{Env: cfg.Env, Shell: cfg.Shell, Platform: insp.Image.Platform}
}
