package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/mybuild/mybuild/cache"
)

const cacheUsage = `Usage:
  mybuild cache ls [--cache-dir DIR]
  mybuild cache du [--cache-dir DIR]
  mybuild cache prune [--all] [--keep-storage SIZE] [--filter until=DURATION] [--cache-dir DIR]

prune without flags removes only orphans: blobs and unpacked layers that no
step refers to. It waits for running builds to finish.

Flags:
`

func runCache(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, cacheUsage)
		return usagef("cache: missing command (ls, du or prune)")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("mybuild cache "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cacheDir := fs.String("cache-dir", defaultCacheDir(), "cache `dir`")
	var all bool
	var keep, filter string
	if cmd == "prune" {
		fs.BoolVar(&all, "all", false, "remove everything")
		fs.StringVar(&keep, "keep-storage", "", "remove the least recently used steps until the cache takes at most `SIZE` (e.g. 10GB)")
		fs.StringVar(&filter, "filter", "", "`until=DURATION`: remove steps not used for DURATION (e.g. 24h, 7d)")
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, cacheUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("cache %s: unexpected argument %q", cmd, rest[0])
	}
	switch cmd {
	case "ls":
		return cacheLs(ctx, *cacheDir, stdout)
	case "du":
		return cacheDu(ctx, *cacheDir, stdout)
	case "prune":
		opts := cache.PruneOptions{All: all}
		if keep != "" {
			if opts.KeepStorage, err = units.RAMInBytes(keep); err != nil || opts.KeepStorage <= 0 {
				return usagef("--keep-storage %q: want a size such as 512MB or 10GB", keep)
			}
		}
		if filter != "" {
			if opts.Until, err = parseUntil(filter); err != nil {
				return err
			}
		}
		return cachePrune(ctx, *cacheDir, opts, stdout)
	}
	return usagef("cache: unknown command %q (want ls, du or prune)", cmd)
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

func cacheLs(ctx context.Context, dir string, w io.Writer) error {
	s, err := cache.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer s.Close()
	recs, err := s.Steps()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSIZE\tLAST USED\tCREATED BY")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Key.Encoded()[:12], units.HumanSize(float64(r.Size())),
			units.HumanDuration(time.Since(r.LastUsed))+" ago", shorten(r.CreatedBy, 60))
	}
	return tw.Flush()
}

func cacheDu(ctx context.Context, dir string, w io.Writer) error {
	s, err := cache.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer s.Close()
	u, err := s.Usage()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "step records:\t%d\n", u.Steps)
	fmt.Fprintf(tw, "layer blobs:\t%s\t(%d)\n", units.HumanSize(float64(u.BlobBytes)), u.Blobs)
	fmt.Fprintf(tw, "unpacked layers:\t%s\t(%d)\n", units.HumanSize(float64(u.LayerBytes)), u.Layers)
	fmt.Fprintf(tw, "other:\t%s\n", units.HumanSize(float64(u.OtherBytes)))
	fmt.Fprintf(tw, "total:\t%s\n", units.HumanSize(float64(u.Total())))
	fmt.Fprintf(tw, "reclaimable:\t%s\n", units.HumanSize(float64(u.ReclaimBytes)))
	return tw.Flush()
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

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
