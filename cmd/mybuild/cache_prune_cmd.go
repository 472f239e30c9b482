package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/mybuild/mybuild/cache"
	"github.com/spf13/cobra"
)

// pruneOptions are the flags of mybuild cache prune.
type pruneOptions struct {
	all          bool
	keep, filter string
}

func newCachePruneCommand(s streams, dir *string) *cobra.Command {
	o := &pruneOptions{}
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove cached steps, or only the orphans",
		Long: `Removes, without flags, only orphans: blobs and unpacked layers that no
step refers to. It waits for running builds to finish.`,
		Example: `  mybuild cache prune --keep-storage 10GB
  mybuild cache prune --filter until=24h`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			return withInterrupt(func(ctx context.Context) error { return runPrune(ctx, o, *dir, s) })
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.BoolVarP(&o.all, "all", "a", false, "Remove everything")
	fs.StringVar(&o.keep, "keep-storage", "", "Remove the least recently used steps until the cache takes at most this much (e.g. 10GB)")
	fs.StringVar(&o.filter, "filter", "", "Provide filter values: until=DURATION removes steps not used for DURATION (e.g. 24h, 7d)")
	return cmd
}

func runPrune(ctx context.Context, o *pruneOptions, dir string, s streams) error {
	opts := cache.PruneOptions{All: o.all}
	var err error
	if o.keep != "" {
		if opts.KeepStorage, err = units.RAMInBytes(o.keep); err != nil || opts.KeepStorage <= 0 {
			return usagef("--keep-storage %q: want a size such as 512MB or 10GB", o.keep)
		}
	}
	if o.filter != "" {
		if opts.Until, err = parseUntil(o.filter); err != nil {
			return err
		}
	}
	return cachePrune(ctx, dir, opts, s.out)
}

// parseUntil reads "until=DURATION", where DURATION is a Go duration or a
// number of days such as 7d.
func parseUntil(s string) (time.Duration, error) {
	v, ok := strings.CutPrefix(s, "until=")
	if !ok {
		return 0, usagef("--filter %q: only until=DURATION is supported", s)
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(24*time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, usagef("--filter %q: want a duration such as 24h or 7d", s)
	}
	return d, nil
}

func cachePrune(ctx context.Context, dir string, opts cache.PruneOptions, w io.Writer) error {
	s, err := cache.Open(ctx, dir, cache.Exclusive())
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Prune(opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "removed %d steps, %d blobs and %d unpacked layers: %s freed\n",
		rep.Steps, rep.Blobs, rep.Layers, units.HumanSize(float64(rep.Bytes)))
	return nil
}
