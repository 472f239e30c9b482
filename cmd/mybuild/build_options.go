package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/isolation"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/sandbox"
)

// buildOptions checks the flags and the CONTEXT argument, and turns them
// into the options of a build, all but its store and reporter, and the
// destinations it writes: whatever is wrong with them is told before
// anything runs.
func (o *buildOptions) buildOptions(args []string, rep reporter) (build.Options, *destinations, error) {
	opts := build.Options{Context: ".", Dockerfile: o.file, NoCache: o.noCache, Target: o.target,
		NoCacheMountExport: !o.cacheMountExport}
	if len(args) == 1 {
		opts.Context = args[0]
	}
	if opts.Dockerfile == "" {
		opts.Dockerfile = filepath.Join(opts.Context, "Dockerfile")
	}
	var err error
	if opts.Network, err = sandbox.ParseNetwork(o.network); err != nil {
		return opts, nil, usagef("--network: %v", err)
	}
	if o.mode, err = isolation.ParseMode(o.isolation); err != nil {
		return opts, nil, usagef("--isolation: %v", err)
	}
	if o.force && o.mode != isolation.InPlace {
		return opts, nil, usagef("--force only applies to --isolation=in-place")
	}
	dest, err := o.destinations()
	if err != nil {
		return opts, nil, err
	}
	opts.Outputs, opts.Exports = dest.outputs, dest.exports
	algo, level, err := o.layerCompression(dest)
	if err != nil {
		return opts, nil, err
	}
	if opts.Compression, err = layer.ParseCompression(algo, level); err != nil {
		if dest.compression != nil {
			return opts, nil, usagef("--output %s: %w", dest.compression.from, err)
		}
		return opts, nil, usagef("--compression: %w", err)
	}
	if err := o.inputs(&opts); err != nil {
		return opts, nil, err
	}
	prov, err := o.provenanceSettings()
	if err != nil {
		return opts, nil, err
	}
	opts.Provenance, opts.ProvenanceBuilderID = prov.mode, prov.builderID
	opts.BuilderVersion = versionString()
	reg, err := o.settings(rep.Blob)
	if err != nil {
		return opts, nil, err
	}
	opts.Platform, opts.Pull, opts.Registry = reg.platform, reg.pull, reg.opts
	o.usePrefetcher(&opts)
	if len(reg.platforms) > 1 {
		opts.Platforms = reg.platforms
	}
	if opts.CacheRepo, err = o.sharedCache(reg); err != nil {
		return opts, nil, err
	}
	if opts.Labels, err = parseLabels(o.labels); err != nil {
		return opts, nil, err
	}
	platform := reg.platform
	if platform.OS == "" && len(reg.platforms) < 2 {
		platform = image.HostPlatform()
	}
	target := annotationTarget{platform: platform, platforms: reg.platforms, index: platform.OS == "" || opts.Provenance != build.ProvenanceOff, outputs: dest.outputs}
	if err := parseAnnotations(o.annotations, target, &opts); err != nil {
		return opts, nil, err
	}
	if opts.SSHAuthSock, err = o.sshAgent(); err != nil {
		return opts, nil, err
	}
	return opts, dest, nil
}

// inputs reads the flags of what goes into the build: build args, the
// source date epoch, secrets, entitlements and named contexts.
func (o *buildOptions) inputs(opts *build.Options) error {
	var err error
	if opts.BuildArgs, err = parseBuildArgs(o.buildArgs); err != nil {
		return err
	}
	if opts.SourceDateEpoch, err = o.epoch(opts.BuildArgs); err != nil {
		return err
	}
	if opts.Secrets, err = parseSecrets(o.secrets); err != nil {
		return err
	}
	if opts.Allow, err = parseAllow(o.allow); err != nil {
		return err
	}
	opts.Contexts, err = parseBuildContexts(o.contexts)
	return err
}

// parseAllow reads --allow values, each an entitlement or a list of them,
// as buildx takes them.
func parseAllow(values []string) ([]build.Entitlement, error) {
	var allow []build.Entitlement
	for _, a := range values {
		for _, a := range strings.Split(a, ",") {
			e, err := build.ParseEntitlement(strings.TrimSpace(a))
			if err != nil {
				return nil, usagef("--allow: %v", err)
			}
			allow = append(allow, e)
		}
	}
	return allow, nil
}

// epoch is the source date epoch: --source-date-epoch, else the
// SOURCE_DATE_EPOCH build arg, else $SOURCE_DATE_EPOCH, as buildx reads
// it. The value also becomes the build arg, for an ARG SOURCE_DATE_EPOCH
// to see. nil: none.
func (o *buildOptions) epoch(buildArgs map[string]string) (*time.Time, error) {
	v, flag := o.sourceDateEpoch, "--source-date-epoch"
	if v == "" {
		v, flag = buildArgs["SOURCE_DATE_EPOCH"], "--build-arg SOURCE_DATE_EPOCH"
	}
	if v == "" {
		v, flag = os.Getenv("SOURCE_DATE_EPOCH"), "$SOURCE_DATE_EPOCH"
	}
	if v == "" {
		return nil, nil
	}
	t, err := build.ParseSourceDateEpoch(v)
	if err != nil {
		return nil, usagef("%s: %v", flag, err)
	}
	buildArgs["SOURCE_DATE_EPOCH"] = v
	return &t, nil
}

// parseBuildArgs reads --build-arg values (see fromEnvironment).
func parseBuildArgs(values []string) (map[string]string, error) {
	kvs, err := fromEnvironment("--build-arg", values)
	if err != nil {
		return nil, err
	}
	args := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		args[k] = v
	}
	return args, nil
}

// parseLabels reads --label values: K=V, or K for an empty value, as
// docker build takes them.
func parseLabels(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	labels := map[string]string{}
	for _, kv := range values {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, usagef("--label %q: missing name", kv)
		}
		labels[k] = v
	}
	return labels, nil
}

// cacheRepoOptions are the registry options of the shared cache: those
// of pulls, and the platform.
func cacheRepoOptions(reg *registrySettings) []registry.Option {
	opts := slices.Clone(reg.opts)
	if reg.platform.OS != "" {
		opts = append(opts, registry.WithPlatform(reg.platform))
	}
	return opts
}
