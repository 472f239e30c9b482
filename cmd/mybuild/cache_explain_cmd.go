package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/cache"
	"github.com/spf13/cobra"
)

const cacheExplainLong = `Keys every step of the build that the same flags would make, looks each
up in the cache (and the shared cache of --cache-repo, without fetching a
layer), and says which would hit and why each other one would miss: what
differs from the closest earlier record of the step. Nothing is built: no
step runs, and no record, layer or image is written. Base images are
resolved as a build resolves them (--pull), since a FROM's key is its
layers.

Every key is known without building: a key is made of the step's inputs
and its parent's key, never of what a step made. A step that misses only
because an earlier one does says which one decides it.`

// newCacheExplainCommand is mybuild cache explain: the build flags that
// change keys, and CONTEXT.
func newCacheExplainCommand(s streams, dir *string) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:               "explain [flags] [CONTEXT]",
		Short:             "Say which steps of a build would hit the cache, and why the others would miss",
		Long:              cacheExplainLong,
		Example:           "  mybuild cache explain .\n  mybuild cache explain -f docker/Dockerfile --build-arg VERSION=1.2 --target release .",
		Args:              maxArgs(1, "CONTEXT"),
		ValidArgsFunction: completeDirs,
		RunE: func(_ *cobra.Command, args []string) error {
			o.cacheDir = *dir
			return withInterrupt(func(ctx context.Context) error { return runCacheExplain(ctx, o, args, s) })
		},
	}
	o.registerExplain(cmd)
	return cmd
}

// registerExplain adds the build flags that change keys, with the names
// and help of mybuild build.
func (o *buildOptions) registerExplain(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVarP(&o.file, "file", "f", "", "Name of the Dockerfile (default: \"CONTEXT/Dockerfile\")")
	fs.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables (K=V, or K to take the value from the environment)")
	fs.StringArrayVar(&o.contexts, "build-context", nil, "Additional build contexts (e.g., name=path)")
	fs.StringVar(&o.target, "target", "", "Set the target build stage")
	o.registryOptions.register(fs, "Set target platform for build (os/arch[/variant]; default the host's)")
	fs.StringVar(&o.network, "network", "host", "The networking mode of the \"RUN\" instructions: host or none")
	fs.StringArrayVar(&o.allow, "allow", nil, "Allow extra privileged entitlement (e.g., \"security.insecure\")")
	fs.StringVar(&o.sourceDateEpoch, "source-date-epoch", "", "The source date epoch of the build, in seconds since 1970 (default $SOURCE_DATE_EPOCH)")
	fs.StringVar(&o.cacheRepo, "cache-repo", "", "Look steps up in this shared cache too (REGISTRY/REPO); nothing is pushed")
	fs.StringArrayVar(&o.cacheFrom, "cache-from", nil, "buildx's spelling of --cache-repo (type=registry,ref=REGISTRY/REPO)")
	fs.StringArrayVar(&o.cacheTo, "cache-to", nil, "Accepted as in build; nothing is pushed")
	fs.DurationVar(&o.cacheTTL, "cache-ttl", 14*24*time.Hour, "Ignore shared cache entries older than this (0: keep them forever)")
	o.isolation, o.compression, o.format = "auto", "gzip", "oci"
}

func runCacheExplain(ctx context.Context, o *buildOptions, args []string, s streams) error {
	args, done, err := o.gitContext(ctx, args)
	if err != nil {
		return err
	}
	defer done()
	rep := explainReporter{w: s.err}
	opts, _, err := o.buildOptions(args, rep)
	if err != nil {
		return err
	}
	store, err := cache.Open(ctx, o.cacheDir)
	if err != nil {
		return err
	}
	defer store.Close()
	opts.Store, opts.Reporter, opts.Explain = store, rep, true
	res, err := build.Build(ctx, opts)
	if err != nil {
		return err
	}
	return printExplain(s.out, res)
}

// printExplain writes a line per step, and a summary:
//
//	[5/6] COPY src /src: miss: 1 file changed: src/a.txt
//	[6/6] RUN make: miss: parent step missed (decided by [5/6] COPY src /src)
//	4 of 6 steps would hit, 2 would run
func printExplain(w io.Writer, res *build.Result) error {
	hits := 0
	var b strings.Builder
	for _, st := range res.Steps {
		info := build.StepInfo{Stage: st.Stage, Index: st.Index, Total: st.Total}
		fmt.Fprintf(&b, "%s %s: ", info.Label(), oneLine(st.Instruction))
		switch {
		case st.Miss == nil && st.CacheSource == "registry":
			hits++
			b.WriteString("hit (shared cache)\n")
		case st.Miss == nil:
			hits++
			b.WriteString("hit\n")
		case st.Miss.DecidedBy != "":
			fmt.Fprintf(&b, "miss: %s (decided by %s)\n", st.Miss.Reason, st.Miss.DecidedBy)
		default:
			fmt.Fprintf(&b, "miss: %s\n", st.Miss.Reason)
		}
	}
	fmt.Fprintf(&b, "%d of %d steps would hit, %d would run\n", hits, len(res.Steps), len(res.Steps)-hits)
	_, err := io.WriteString(w, b.String())
	return err
}

// explainReporter shows warnings only.
type explainReporter struct {
	quietProgress
	w io.Writer
}

func (r explainReporter) Warning(msg string) { fmt.Fprintf(r.w, "WARNING: %s\n", msg) }
