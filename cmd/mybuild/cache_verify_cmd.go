package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/isolation"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/spf13/cobra"
)

// verifyOptions are the flags of mybuild cache verify.
type verifyOptions struct {
	repair bool
}

func newCacheVerifyCommand(s streams, dir *string) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [--repair]",
		Short: "Check every blob, step record and unpacked layer of the cache",
		Long: `Checks the whole cache, reading everything: every blob against its
digest, every step record (it reads back whole, and its blobs are there),
every unpacked layer against its seal, every file hashed. It prints one
line per problem, and exits 1 when it found any. --repair removes what is
damaged, unpacks damaged layers again from their blobs, leaves the rest
for the next build to make again, and exits 0 when it repaired everything
it found; it waits for running builds to finish.`,
		Example: `  mybuild cache verify
  mybuild cache verify --repair`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			return withInterrupt(func(ctx context.Context) error { return runVerify(ctx, o, *dir, s.out) })
		},
	}
	cmd.Flags().BoolVar(&o.repair, "repair", false, "Remove damaged blobs and step records, and unpack damaged layers again")
	return cmd
}

func runVerify(ctx context.Context, o *verifyOptions, dir string, w io.Writer) error {
	var opts []cache.Option
	if o.repair {
		opts = append(opts, cache.Exclusive())
	}
	s, err := cache.Open(ctx, dir, opts...)
	if err != nil {
		return err
	}
	defer s.Close()
	vo := cache.VerifyOptions{Repair: o.repair, Report: func(p cache.Problem) { fmt.Fprintln(w, p) }}
	if o.repair && os.Geteuid() == 0 {
		// Root, on the host or in the rootless mode's user namespace,
		// unpacks layers as a build does.
		var opts []rootfs.OverlayOption
		if isolation.InRootless() {
			opts = append(opts, rootfs.Rootless(func(msg string) { fmt.Fprintln(w, "warning: "+msg) }))
		}
		vo.Unpack = rootfs.NewOverlay(s, opts...).Repair
	}
	n, err := s.Verify(ctx, vo)
	if err != nil {
		return err
	}
	switch {
	case n == 0:
		fmt.Fprintln(w, "the cache is sound")
	case o.repair:
		fmt.Fprintf(w, "repaired %s\n", problems(n))
	default:
		return &exitError{code: 1, msg: fmt.Sprintf("cache verify: %s found; mybuild cache verify --repair repairs what it can, and removes the rest", problems(n))}
	}
	return nil
}

// problems says "1 problem" or "N problems".
func problems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}
