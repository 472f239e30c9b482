package main

import (
	"context"

	"github.com/spf13/cobra"
)

// newCacheCommand is mybuild cache and its commands, which share
// --cache-dir.
func newCacheCommand(s streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "cache COMMAND",
		Short: "Look into or trim the cache",
		Long: `Looks into or trims the cache: ls lists its steps, du the space it
takes, prune removes what is not needed, verify checks it all, explain
says which steps of a build would hit and why the others would miss.`,
		Example: `  mybuild cache ls
  mybuild cache explain .
  mybuild cache prune --filter until=7d`,
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("cache: missing command (ls, du, prune, verify or explain)")
			}
			return usagef("cache: unknown command %q (want ls, du, prune, verify or explain)", args[0])
		},
	}
	// A normal user's cache holds files of its subordinate ids, which only
	// the user namespace of the rootless mode may read and remove.
	cmd.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		return withInterrupt(func(ctx context.Context) error { return rootlessIfUser(ctx, s) })
	}
	cmd.PersistentFlags().StringVar(&dir, "cache-dir", defaultCacheDir(), "The local cache directory")
	cmd.AddCommand(newCacheLsCommand(s, &dir), newCacheDuCommand(s, &dir), newCachePruneCommand(s, &dir),
		newCacheVerifyCommand(s, &dir), newCacheExplainCommand(s, &dir))
	return cmd
}

// noArgs refuses arguments to a cache command.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("cache %s: unexpected argument %q", cmd.Name(), args[0])
	}
	return nil
}
