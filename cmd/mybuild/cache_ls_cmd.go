package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/mybuild/mybuild/cache"
	"github.com/spf13/cobra"
)

func newCacheLsCommand(s streams, dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the cached steps: key, size, last use and instruction",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			return withInterrupt(func(ctx context.Context) error { return cacheLs(ctx, *dir, s.out) })
		},
	}
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

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
