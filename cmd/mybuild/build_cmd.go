package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/isolation"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/spf13/cobra"
)

const buildLong = `Builds the Dockerfile in CONTEXT (default ".") into an OCI image, without a
daemon. Every step's result is cached by content, so a rebuild runs only
what changed.

-t takes an image name, as in buildx, or a destination, as mybuild always
has: a -t with a transport (oci-archive:, oci:, docker-archive:,
docker://) or a path ending in .tar is written there; any other -t names
the image, and --push pushes it. With neither, the image stays in the
cache, and a warning says so. The manifest digest goes to stdout.

mybuild [flags] [CONTEXT] is the same command. A context directory named
like a command (build, run, inspect, info, cache, index, completion, help) is written
./build there.`

const buildExample = `  mybuild build -t app.tar .
  mybuild build -t ghcr.io/acme/app:1 --push --cache-to type=registry,ref=ghcr.io/acme/app-cache .
  mybuild build -f docker/Dockerfile --build-arg VERSION=1.2 --target release -t oci:layout:1.2 .
  mybuild build --output type=local,dest=dist .
  mybuild build --build-context src=../lib -t docker-archive:app.tar:app:1 .`

// newBuildCommand is mybuild build, also mybuild [flags] [CONTEXT].
func newBuildCommand(s streams) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:               "build [flags] [CONTEXT]",
		Short:             "Build an image from a Dockerfile",
		Long:              buildLong,
		Example:           buildExample,
		Args:              maxArgs(1, "CONTEXT"),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.compressionSet = cmd.Flags().Changed("compression") || cmd.Flags().Changed("compression-level")
			return withInterrupt(func(ctx context.Context) error { return runBuild(ctx, o, args, s) })
		},
	}
	o.register(cmd)
	return cmd
}

func runBuild(ctx context.Context, o *buildOptions, args []string, s streams) error {
	if o.version {
		fmt.Fprintln(s.out, "mybuild", versionString())
		return nil
	}
	args, done, err := o.gitContext(ctx, args)
	if err != nil {
		return err
	}
	defer done()
	rep, err := newReporter(o.progress, o.quiet, s.err)
	if err != nil {
		return err
	}
	defer stopReporter(rep)
	opts, dest, err := o.buildOptions(args, rep)
	if err != nil {
		return err
	}
	defer dest.removeStdout()
	if o.check {
		return runCheck(ctx, opts, s.out)
	}
	o.startPrefetch(ctx, &opts)
	decision, facts, err := isolation.Decide(ctx, o.mode, o.force)
	if err != nil {
		return err
	}
	if decision.Mode == isolation.Rootless && !isolation.InRootless() {
		if built, err := o.cachedOutside(ctx, args, facts, s); built {
			return err
		}
		return enterRootless(ctx, facts, s)
	}
	rep.Isolation(decision)
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	err = o.run(ctx, opts, dest, rep, s.out, func(store *cache.Store) (rootfs.Driver, error) {
		return o.driver(decision.Mode, facts, store, opts, rep.Warning)
	})
	if err == nil && dest.stdout != "" {
		err = dest.toStdout(s.out)
	}
	return err
}

// run opens the store, takes the driver newDriver makes, builds, and
// reports.
func (o *buildOptions) run(ctx context.Context, opts build.Options, dest *destinations, rep reporter, stdout io.Writer,
	newDriver func(*cache.Store) (rootfs.Driver, error)) error {
	store, err := cache.Open(ctx, o.cacheDir)
	if err != nil {
		return err
	}
	defer store.Close()
	opts.Store, opts.Reporter = store, dest.reporter(rep)
	if opts.Driver, err = newDriver(store); err != nil {
		return err
	}
	res, err := build.Build(ctx, opts)
	if err != nil {
		return err
	}
	if err := o.prefetcher.Remember(store); err != nil {
		rep.Warning(fmt.Sprintf("the bases asked will not be asked ahead next time: %v", err))
	}
	if w := dest.nothingWritten(); w != "" {
		rep.Warning(w)
	}
	return o.report(res, dest, rep, stdout)
}

// cachedOutside tries a normal user's build before entering the user
// namespace: a build whose every layer is in the cache needs none, since
// only making a layer does (build.Options.NoLayers). It tells whether the
// build was done; when not (a layer to make, or any failure, which the
// build in the namespace reproduces), nothing was printed. err is that of
// the copy of an output to stdout, once built.
func (o *buildOptions) cachedOutside(ctx context.Context, args []string, facts isolation.Facts, s streams) (built bool, err error) {
	if o.noCache {
		return false, nil
	}
	var progress, stdout bytes.Buffer
	rep, err := newReporter(o.progress, o.quiet, &progress)
	if err != nil {
		return false, nil
	}
	opts, dest, err := o.buildOptions(args, rep)
	if err != nil {
		return false, nil
	}
	defer dest.removeStdout()
	opts.NoLayers, opts.ContextOwners = true, isolation.NamespaceOwners(facts)
	rep.Isolation(isolation.Decision{Mode: isolation.Rootless,
		Reason: fmt.Sprintf("user %s; every layer was in the cache, so no user namespace was needed", facts.User)})
	err = o.run(ctx, opts, dest, rep, &stdout, func(store *cache.Store) (rootfs.Driver, error) {
		return rootfs.NewOverlay(store, rootfs.Rootless(rep.Warning)), nil
	})
	if err != nil {
		return false, nil
	}
	s.err.Write(progress.Bytes())
	s.out.Write(stdout.Bytes())
	if dest.stdout != "" {
		return true, dest.toStdout(s.out)
	}
	return true, nil
}

// report tells what a build made: the iid and metadata files, a line per
// output (unless quiet), and the image digest on stdout.
func (o *buildOptions) report(res *build.Result, dest *destinations, rep reporter, stdout io.Writer) error {
	if o.iidFile != "" {
		err := atomicfile.Write(o.iidFile, func(w io.Writer) error {
			// The config digest, as buildx writes it whenever there is
			// one (a single-platform image with provenance too); the
			// index's for a multi-platform image.
			id := res.ConfigDigest
			if id == "" {
				id = res.IndexDigest
			}
			_, err := io.WriteString(w, id.String())
			return err
		})
		if err != nil {
			return fmt.Errorf("iidfile: %w", err)
		}
	}
	if o.metadataFile != "" {
		if err := writeMetadata(o.metadataFile, res, dest.names); err != nil {
			return err
		}
	}
	for _, out := range dest.outputs {
		rep.Wrote(dest.shown(out.String()))
	}
	for _, e := range dest.exports {
		rep.Wrote(dest.shown(e.String()))
	}
	stopReporter(rep)      // stdout may be the terminal the view is on
	if dest.stdout == "" { // else stdout takes an archive
		fmt.Fprintln(stdout, res.ImageDigest)
	}
	return nil
}
