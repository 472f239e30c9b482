package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// printHelp prints a command's help: what it does, how it is called, its
// commands, its examples, then its flags, group by group.
func printHelp(c *cobra.Command) {
	w := c.OutOrStdout()
	desc := c.Long
	if desc == "" {
		desc = c.Short
	}
	fmt.Fprintf(w, "%s\n\nUsage:\n  %s\n", strings.TrimSpace(desc), c.UseLine())
	if c.HasAvailableSubCommands() {
		printCommands(w, c)
	}
	if c.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	printFlagGroups(w, c)
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nRun '%s COMMAND --help' for more on a command.\n", c.CommandPath())
	}
}

// printRootHelp prints mybuild's help: its commands, then the flags of
// build, which mybuild [flags] [CONTEXT] takes too.
func printRootHelp(root, build *cobra.Command) {
	w := root.OutOrStdout()
	fmt.Fprintf(w, "%s\n\nUsage:\n  mybuild [flags] [CONTEXT]\n  mybuild COMMAND\n", root.Long)
	printCommands(w, root)
	fmt.Fprintf(w, "\nExamples:\n%s\n", root.Example)
	printFlagGroups(w, build)
	fmt.Fprintln(w, "\nRun 'mybuild COMMAND --help' for more on a command.")
}

func printCommands(w io.Writer, c *cobra.Command) {
	fmt.Fprintln(w, "\nCommands:")
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			fmt.Fprintf(w, "  %-11s %s\n", sub.Name(), sub.Short)
		}
	}
}

// printFlagGroups prints the flags of c under the titles group gave
// them; the others, --help among them, under "Flags".
func printFlagGroups(w io.Writer, c *cobra.Command) {
	for _, g := range flagGroups(c) {
		if usages := g.flags.FlagUsagesWrapped(helpWidth); usages != "" {
			fmt.Fprintf(w, "\n%s:\n%s", g.title, usages)
		}
	}
}

// flagGroups sorts the visible flags of c into its groups, in the order
// they were made, flags without a group last.
func flagGroups(c *cobra.Command) []flagGroup {
	var groups []flagGroup
	index := map[string]int{}
	for _, title := range strings.Split(c.Annotations[groupAnnotation], "\n") {
		if title != "" {
			index[title] = len(groups)
			groups = append(groups, flagGroup{title: title, flags: newHelpFlagSet()})
		}
	}
	other := flagGroup{title: "Flags", flags: newHelpFlagSet()}
	if len(groups) > 0 {
		other.title = "Other flags"
	}
	c.InitDefaultHelpFlag()
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if i, ok := index[groupOf(f)]; ok {
			groups[i].flags.AddFlag(f)
			return
		}
		other.flags.AddFlag(f)
	})
	return append(groups, other)
}

// helpWidth is where the help wraps flag descriptions.
const helpWidth = 100

func newHelpFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("help", pflag.ContinueOnError)
	fs.SortFlags = false
	return fs
}

func groupOf(f *pflag.Flag) string {
	if g := f.Annotations[groupAnnotation]; len(g) > 0 {
		return g[0]
	}
	return ""
}
