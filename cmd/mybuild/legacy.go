package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// stopsAtArgs marks a command whose flags end at its first argument, as
// mybuild run's end at IMAGE.
const stopsAtArgs = "mybuild-stops-at-args"

// legacyFlags rewrites the single-dash long flags of mybuild's first
// command line (-build-arg, -file, -cache-dir, as Go's flag package takes
// them) into the double-dash ones pflag takes, with a one-line warning
// for each on stderr. cmd comes from root.Find, which has merged its
// parents' persistent flags into its own (cache's --cache-dir for cache
// ls). It also keeps the value of a flag whose value is optional
// (optionalValues) when it is spelled apart from it: --pull never, now
// that a bare --pull means always, and --provenance mode=max, as buildx
// takes it. A flag's value, and what follows "--", are left alone.
func legacyFlags(cmd *cobra.Command, args []string, stderr io.Writer) []string {
	cmd.InitDefaultHelpFlag()
	fs := cmd.Flags()
	stops := cmd.Annotations[stopsAtArgs] != ""
	warned := map[string]bool{}
	out := make([]string, 0, len(args))
	// words are the command's own name and its parents', before its flags.
	words := commandWords(cmd, args)
	out = append(out, args[:words]...)
	for i := words; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i:]...)
		case a == "-" || !strings.HasPrefix(a, "-"):
			if stops {
				return append(out, args[i:]...)
			}
			out = append(out, a)
			continue
		case !strings.HasPrefix(a, "--") && len(a) > 2:
			name, _, _ := strings.Cut(a[1:], "=")
			if f := fs.Lookup(name); len(name) > 1 && (f != nil || name == "help") {
				if !warned[name] {
					warned[name] = true
					fmt.Fprintf(stderr, "mybuild: warning: -%s is deprecated: use --%s\n", name, name)
				}
				a = "-" + a
			}
		}
		out = append(out, a)
		name, next := takesNext(fs, a)
		switch {
		case !next || i+1 == len(args):
		case optionalValues[name] != nil:
			if optionalValues[name](args[i+1]) {
				i++
				out[len(out)-1] += "=" + args[i]
			}
		default:
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// pullValues are the values of --pull.
var pullValues = []string{"always", "missing", "never", "true", "false"}

// optionalValues are the flags that stand alone or take a value (pflag's
// NoOptDefVal), each with the test the next argument passes to be its
// value: a bare --pull is always, and a bare --provenance true.
var optionalValues = map[string]func(string) bool{
	"pull":       func(a string) bool { return slices.Contains(pullValues, a) },
	"provenance": isProvenanceValue,
}

// commandWords counts the arguments up to the one that names cmd, after
// those naming its parents below the root ("cache", "prune").
func commandWords(cmd *cobra.Command, args []string) int {
	var path []string
	for c := cmd; c.HasParent(); c = c.Parent() {
		path = append([]string{c.Name()}, path...)
	}
	n := 0
	for _, name := range path {
		i := slices.Index(args[n:], name)
		if i < 0 {
			return n
		}
		n += i + 1
	}
	return n
}

// takesNext tells whether the flag argument a, of fs, takes its value
// from the next argument, and returns the flag's name.
func takesNext(fs *pflag.FlagSet, a string) (string, bool) {
	if strings.HasPrefix(a, "--") {
		name, _, hasValue := strings.Cut(a[2:], "=")
		f := fs.Lookup(name)
		if f == nil || hasValue {
			return "", false
		}
		if optionalValues[f.Name] != nil {
			return f.Name, true
		}
		return f.Name, f.NoOptDefVal == ""
	}
	// A run of shorthands, such as -it or -tVALUE: the first that takes a
	// value takes the rest, or the next argument when it is last.
	short := a[1:]
	for j := 0; j < len(short); j++ {
		if short[j] == '=' {
			return "", false
		}
		f := fs.ShorthandLookup(short[j : j+1])
		if f == nil {
			return "", false
		}
		if f.NoOptDefVal == "" {
			return f.Name, j == len(short)-1
		}
	}
	return "", false
}
