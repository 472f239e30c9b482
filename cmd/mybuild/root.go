package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const rootLong = `mybuild builds OCI images from Dockerfiles without a daemon. Every step's
result is cached by content, so a rebuild runs only what changed.

mybuild [flags] [CONTEXT] is mybuild build [flags] [CONTEXT]. A first
argument that names a command is that command: a context directory named
build, run, inspect, info, cache, index, completion or help is written
./build.`

const rootExample = `  mybuild -t app.tar .                          # an OCI archive
  mybuild build -t ghcr.io/acme/app:1 --push .   # pushed to a registry
  mybuild --output type=local,dest=out .         # the files only
  mybuild run app.tar
  mybuild inspect ghcr.io/acme/app:1
  mybuild cache prune --keep-storage 10GB`

// newRootCommand is mybuild and its commands. Each command is a cobra
// command of its own file, whose flags fill an options struct that its
// run function takes, as in docker's and buildx's command lines.
func newRootCommand(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:               "mybuild [command]",
		Short:             "Build OCI images from Dockerfiles, without a daemon",
		Long:              rootLong,
		Example:           rootExample,
		SilenceErrors:     true,
		SilenceUsage:      true,
		ValidArgsFunction: completeDirs,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	build := newBuildCommand(s)
	root.AddCommand(build, newRunCommand(s), newInspectCommand(s), newInfoCommand(s), newCacheCommand(s), newIndexCommand(s))
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		if c == root {
			printRootHelp(root, build)
			return
		}
		printHelp(c)
	})
	root.SetUsageFunc(func(c *cobra.Command) error {
		printHelp(c)
		return nil
	})
	return root
}

// completeDirs completes a CONTEXT: a directory.
func completeDirs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// maxArgs accepts at most n arguments, naming them what in the error.
func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("too many arguments: want at most %d %s, got %q", n, what, args)
		}
		return nil
	}
}

// group puts the named flags of fs in a group of the help; a command's
// groups are listed in the order they are first given.
func group(cmd *cobra.Command, title string, names ...string) {
	fs := cmd.Flags()
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			panic("group " + title + ": no flag " + n) // a mistake in this file's callers
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[groupAnnotation] = []string{title}
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	if order := cmd.Annotations[groupAnnotation]; order == "" {
		cmd.Annotations[groupAnnotation] = title
	} else {
		cmd.Annotations[groupAnnotation] = order + "\n" + title
	}
}

// groupAnnotation keys a flag's group, and a command's order of groups.
const groupAnnotation = "mybuild-group"

// flagGroup is one group of a command's flags, for the help.
type flagGroup struct {
	title string
	flags *pflag.FlagSet
}
