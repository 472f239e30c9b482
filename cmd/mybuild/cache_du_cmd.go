package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	units "github.com/docker/go-units"
	"github.com/mybuild/mybuild/cache"
	"github.com/spf13/cobra"
)

func newCacheDuCommand(s streams, dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "du",
		Short: "Show the space the cache takes, and what prune would free",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			return withInterrupt(func(ctx context.Context) error { return cacheDu(ctx, *dir, s.out) })
		},
	}
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
