package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/sandbox"
)

const buildUsage = `Usage: mybuild [flags] [CONTEXT]

Builds the Dockerfile in CONTEXT (default ".") into an OCI image, without a
daemon. Every step's result is cached by content, so a rebuild runs only
what changed.

Commands:
  mybuild cache ls|du|prune   look into or trim the cache

Flags:
`

type buildFlags struct {
	file, cacheDir, network, metadataFile string
	cpuProfile, target                    string
	tags, buildArgs, secrets              stringList
	noCache, quiet, version               bool
}

func newBuildFlags(stderr io.Writer) (*flag.FlagSet, *buildFlags) {
	f := &buildFlags{}
	fs := flag.NewFlagSet("mybuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.file, "f", "", "`path` of the Dockerfile (default CONTEXT/Dockerfile)")
	fs.StringVar(&f.file, "file", "", "same as -f")
	fs.Var(&f.tags, "t", "write the image to `DEST`: PATH.tar or oci-archive:PATH[:REF]; repeatable")
	fs.Var(&f.tags, "tag", "same as -t")
	fs.StringVar(&f.cacheDir, "cache-dir", defaultCacheDir(), "cache `dir`")
	fs.StringVar(&f.network, "network", "host", "network of RUN steps: `host` or none")
	fs.Var(&f.buildArgs, "build-arg", "set a build arg: `K=V`, or K to take the value from the environment; repeatable")
	fs.StringVar(&f.target, "target", "", "build this `stage` (default the last one)")
	fs.Var(&f.secrets, "secret", "give RUN --mount=type=secret a secret: `id=ID,src=FILE` or id=ID,env=VAR; repeatable")
	fs.BoolVar(&f.noCache, "no-cache", false, "run every step; results are still stored in the cache")
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
	if len(positional) > 1 {
		return usagef("too many arguments: want at most one CONTEXT, got %q", positional)
	}
	contextDir := "."
	if len(positional) == 1 {
		contextDir = positional[0]
	}
	dockerfile := f.file
	if dockerfile == "" {
		dockerfile = filepath.Join(contextDir, "Dockerfile")
	}
	network, err := sandbox.ParseNetwork(f.network)
	if err != nil {
		return usagef("--network: %v", err)
	}
	outputs, err := parseOutputs(f.tags)
	if err != nil {
		return err
	}
	buildArgs, err := parseBuildArgs(f.buildArgs)
	if err != nil {
		return err
	}
	secrets, err := parseSecrets(f.secrets)
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
	var rep build.Reporter = newProgress(stderr)
	if f.quiet {
		rep = quietProgress{}
	}
	res, err := build.Build(ctx, build.Options{
		Dockerfile:  dockerfile,
		Context:     contextDir,
		Outputs:     outputs,
		Store:       store,
		Network:     network,
		NoCache:     f.noCache,
		BuildArgs:   buildArgs,
		Target:      f.target,
		Secrets:     secrets,
		SSHAuthSock: os.Getenv("SSH_AUTH_SOCK"),
		Reporter:    rep,
	})
	if err != nil {
		return err
	}
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

// parseOutputs reads -t values: a transport reference, or a plain path,
// which means an OCI archive.
func parseOutputs(tags []string) ([]image.Ref, error) {
	var refs []image.Ref
	for _, t := range tags {
		ref, ok, err := image.ParseRef(t)
		if err != nil {
			return nil, usagef("-t %s: %v", t, err)
		}
		if !ok {
			if strings.Contains(t, ":") && !strings.Contains(t, "/") {
				return nil, usagef("-t %s: unknown transport; want PATH.tar or oci-archive:PATH[:REF]", t)
			}
			ref = image.Ref{Transport: image.OCIArchive, Path: t}
		}
		if ref.Transport != image.OCIArchive {
			return nil, usagef("-t %s: writing to %s: is not supported yet", t, ref.Transport)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// parseBuildArgs reads --build-arg values: K=V, or K alone for the value of
// K in the environment (left out when K is not set there, as docker does).
func parseBuildArgs(values []string) (map[string]string, error) {
	args := map[string]string{}
	for _, v := range values {
		k, val, hasValue := strings.Cut(v, "=")
		if k == "" {
			return nil, usagef("--build-arg %q: missing name", v)
		}
		if !hasValue {
			env, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			val = env
		}
		args[k] = val
	}
	return args, nil
}
