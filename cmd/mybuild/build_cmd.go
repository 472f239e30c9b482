package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/sandbox"
	"github.com/mybuild/mybuild/transport"
)

const buildUsage = `Usage: mybuild [flags] [CONTEXT]

Builds the Dockerfile in CONTEXT (default ".") into an OCI image, without a
daemon. Every step's result is cached by content, so a rebuild runs only
what changed.

Commands:
  mybuild cache ls|du|prune   look into or trim the cache
  mybuild inspect IMAGE       show an image's digest, config and layers
  mybuild run IMAGE [CMD...]  run an image's command, as docker run does

Flags:
`

type buildFlags struct {
	registryFlags
	file, cacheDir, network, metadataFile string
	cpuProfile, target, cacheRepo         string
	compression, format, sourceDateEpoch  string
	compressionLevel                      int
	cacheTTL                              time.Duration
	tags, buildArgs, secrets, allow       stringList
	noCache, quiet, version, repoReadOnly bool
}

func newBuildFlags(stderr io.Writer) (*flag.FlagSet, *buildFlags) {
	f := &buildFlags{}
	fs := flag.NewFlagSet("mybuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.file, "f", "", "`path` of the Dockerfile (default CONTEXT/Dockerfile)")
	fs.StringVar(&f.file, "file", "", "same as -f")
	fs.Var(&f.tags, "t", "write the image to `DEST`: PATH.tar, oci-archive:PATH[:REF], oci:DIR[:REF], docker-archive:PATH[:NAME:TAG] or docker://REGISTRY/REPO:TAG; repeatable")
	fs.Var(&f.tags, "tag", "same as -t")
	fs.StringVar(&f.format, "format", "oci", "what a plain -t PATH gets: `oci` (an OCI archive) or docker (a docker-archive)")
	fs.StringVar(&f.compression, "compression", "gzip", "compress new layers with `gzip`, zstd or none (base image layers are kept as they are)")
	fs.IntVar(&f.compressionLevel, "compression-level", 0, "compression `level`: gzip 1-9, zstd 1-22 (default: the compressor's default)")
	fs.StringVar(&f.sourceDateEpoch, "source-date-epoch", "", "build reproducibly for this time, in `seconds` since 1970 (default $SOURCE_DATE_EPOCH): clamp file times in new layers, date the config and new history")
	fs.StringVar(&f.cacheDir, "cache-dir", defaultCacheDir(), "cache `dir`")
	fs.StringVar(&f.network, "network", "host", "network of RUN steps: `host` or none")
	fs.Var(&f.buildArgs, "build-arg", "set a build arg: `K=V`, or K to take the value from the environment; repeatable")
	fs.StringVar(&f.target, "target", "", "build this `stage` (default the last one)")
	fs.Var(&f.secrets, "secret", "give RUN --mount=type=secret a secret: `id=ID,src=FILE` or id=ID,env=VAR; repeatable")
	f.registryFlags.register(fs, "build for `os/arch[/variant]` (default the host's)")
	fs.StringVar(&f.cacheRepo, "cache-repo", "", "share step results through `REGISTRY/REPO`, one tag per step")
	fs.DurationVar(&f.cacheTTL, "cache-ttl", 14*24*time.Hour, "ignore shared cache entries older than this (0: keep them forever)")
	fs.BoolVar(&f.repoReadOnly, "cache-repo-readonly", false, "use the shared cache, never push to it")
	fs.BoolVar(&f.noCache, "no-cache", false, "run every step; results are still stored in the cache")
	fs.Var(&f.allow, "allow", "grant an `entitlement`: security.insecure lets RUN --security=insecure steps run unconfined (network.host is accepted and changes nothing); repeatable")
	fs.StringVar(&f.metadataFile, "metadata-file", "", "write build metadata as JSON to `file`")
	fs.BoolVar(&f.quiet, "q", false, "print only the image digest")
	fs.BoolVar(&f.quiet, "quiet", false, "same as -q")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the build to `file` (for go tool pprof)")
	fs.Usage = func() {
		fmt.Fprint(stderr, buildUsage)
		fs.PrintDefaults()
	}
	return fs, f
}

func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newBuildFlags(stderr)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if f.version {
		fmt.Fprintln(stdout, "mybuild", versionString())
		return nil
	}
	opts, err := f.buildOptions(positional, stderr)
	if err != nil {
		return err
	}
	if err := requireRoot(); err != nil {
		return err
	}
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	store, err := cache.Open(ctx, f.cacheDir)
	if err != nil {
		return err
	}
	defer store.Close()
	opts.Store = store
	opts.Reporter = newProgress(stderr)
	if f.quiet {
		opts.Reporter = quietProgress{}
	}
	res, err := build.Build(ctx, opts)
	if err != nil {
		return err
	}
	return f.report(res, opts.Outputs, stdout, stderr)
}

// buildOptions checks the flags and the CONTEXT argument, and turns them
// into the options of a build, all but its store and reporter: whatever
// is wrong with them is told before anything runs.
func (f *buildFlags) buildOptions(positional []string, stderr io.Writer) (build.Options, error) {
	var opts build.Options
	if len(positional) > 1 {
		return opts, usagef("too many arguments: want at most one CONTEXT, got %q", positional)
	}
	opts.Context = "."
	if len(positional) == 1 {
		opts.Context = positional[0]
	}
	opts.Dockerfile = f.file
	if opts.Dockerfile == "" {
		opts.Dockerfile = filepath.Join(opts.Context, "Dockerfile")
	}
	var err error
	if opts.Network, err = sandbox.ParseNetwork(f.network); err != nil {
		return opts, usagef("--network: %v", err)
	}
	if opts.Outputs, err = parseOutputs(f.tags, f.format); err != nil {
		return opts, err
	}
	if opts.Compression, err = layer.ParseCompression(f.compression, f.compressionLevel); err != nil {
		return opts, usagef("--compression: %v", err)
	}
	if opts.BuildArgs, err = parseBuildArgs(f.buildArgs); err != nil {
		return opts, err
	}
	if opts.SourceDateEpoch, err = f.epoch(opts.BuildArgs); err != nil {
		return opts, err
	}
	if opts.Secrets, err = parseSecrets(f.secrets); err != nil {
		return opts, err
	}
	if opts.Allow, err = parseAllow(f.allow); err != nil {
		return opts, err
	}
	var progress io.Writer = stderr
	if f.quiet {
		progress = nil
	}
	reg, err := f.options(progress)
	if err != nil {
		return opts, err
	}
	opts.Platform, opts.Pull, opts.Registry = reg.platform, reg.pull, reg.opts
	if opts.CacheRepo, err = f.cacheRepository(reg); err != nil {
		return opts, err
	}
	opts.NoCache, opts.Target = f.noCache, f.target
	opts.SSHAuthSock = os.Getenv("SSH_AUTH_SOCK")
	return opts, nil
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

// report tells what a build made: the metadata file, a line per output
// on stderr (unless quiet), and the image digest on stdout.
func (f *buildFlags) report(res *build.Result, outputs []transport.Ref, stdout, stderr io.Writer) error {
	if f.metadataFile != "" {
		if err := writeMetadata(f.metadataFile, res); err != nil {
			return err
		}
	}
	if !f.quiet {
		for _, o := range outputs {
			fmt.Fprintf(stderr, "wrote %s\n", o)
		}
	}
	fmt.Fprintln(stdout, res.ImageDigest)
	return nil
}

// parseOutputs reads -t values (see transport.ParseDestination): a
// transport reference, or a plain path, which means an OCI archive, or
// with --format docker a docker-archive.
func parseOutputs(tags []string, format string) ([]transport.Ref, error) {
	plain := transport.OCIArchive
	switch format {
	case "", "oci":
	case "docker":
		plain = transport.DockerArchive
	default:
		return nil, usagef("--format %s: unknown format (want oci or docker)", format)
	}
	var refs []transport.Ref
	for _, t := range tags {
		ref, err := transport.ParseDestination(t, plain)
		if err != nil {
			return nil, usagef("-t %s: %v", t, err)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// epoch is the source date epoch: --source-date-epoch, else the
// SOURCE_DATE_EPOCH build arg, else $SOURCE_DATE_EPOCH, as buildx reads
// it. The value also becomes the build arg, for an ARG SOURCE_DATE_EPOCH
// to see. nil: none.
func (f *buildFlags) epoch(buildArgs map[string]string) (*time.Time, error) {
	v, flag := f.sourceDateEpoch, "--source-date-epoch"
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

// cacheRepository is the shared cache --cache-repo names, or nil.
func (f *buildFlags) cacheRepository(reg *registrySettings) (*registry.CacheRepo, error) {
	if f.cacheRepo == "" {
		return nil, nil
	}
	opts := slices.Clone(reg.opts)
	if reg.platform.OS != "" {
		opts = append(opts, registry.WithPlatform(reg.platform))
	}
	repo, err := registry.NewCacheRepo(f.cacheRepo, f.cacheTTL, f.repoReadOnly, opts...)
	if err != nil {
		return nil, usagef("--cache-repo: %v", err)
	}
	return repo, nil
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
