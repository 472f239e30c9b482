package parser

import (
	"fmt"
	"io"
	"strings"
)

// PrintTo writes the warnings as docker buildx build --check prints them
// (buildx's printResult, with BuildKit's lint.Warning.PrintTo and
// errdefs.Source.Print for each):
//
//	Check complete, 1 warning has been found!
//
//	WARNING: FromAsCasing - https://docs.docker.com/go/dockerfile/rule/from-as-casing/
//	'as' and 'FROM' keywords' casing do not match
//
//	Dockerfile:1
//	--------------------
//	   1 | >>> FROM alpine as base
//	   2 |     RUN true
//	--------------------
//
// or "Check complete, no warnings found." when there are none.
func (r *LintResult) PrintTo(w io.Writer) error {
	switch n := len(r.Warnings); n {
	case 0:
		_, err := fmt.Fprintln(w, "Check complete, no warnings found.")
		return err
	case 1:
		fmt.Fprintln(w, "Check complete, 1 warning has been found!")
	default:
		fmt.Fprintf(w, "Check complete, %d warnings have been found!\n", n)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "\nWARNING: %s", warn.RuleName)
		if warn.URL != "" {
			fmt.Fprintf(w, " - %s", warn.URL)
		}
		fmt.Fprintf(w, "\n%s\n", warn.Detail)
		if err := r.printSource(w, warn); err != nil {
			return err
		}
	}
	return nil
}

// printSource prints the lines of a warning with some around them, as
// BuildKit's errdefs.Source.Print: two lines of context (four for a
// single line), shared between before and after.
func (r *LintResult) printSource(w io.Writer, warn LintWarning) error {
	lines := strings.Split(string(r.Source), "\n")
	start, end, ok := lineSpan(warn)
	if !ok || start > len(lines) || start < 1 {
		return nil
	}
	end = min(end, len(lines))
	pad := 2
	if end == start {
		pad = 4
	}
	first := start
	for p := 0; p < pad; p++ {
		if start > 1 {
			start--
			p++
		}
		if end != len(lines) {
			end++
			p++
		}
	}
	fmt.Fprintf(w, "%s:%d\n--------------------\n", r.File, first)
	for i := start; i <= end; i++ {
		mark := "   "
		if warn.covers(i) {
			mark = ">>>"
		}
		fmt.Fprintf(w, " %3d | %s %s\n", i, mark, lines[i-1])
	}
	_, err := fmt.Fprint(w, "--------------------\n")
	return err
}

// lineSpan is the first and last line of a warning's ranges.
func lineSpan(warn LintWarning) (start, end int, ok bool) {
	for i, rg := range warn.Location {
		e := max(rg.End.Line, rg.Start.Line)
		if i == 0 || rg.Start.Line < start {
			start = rg.Start.Line
		}
		end = max(end, e)
	}
	return start, end, len(warn.Location) > 0
}

// covers tells whether line is in one of the warning's ranges.
func (w LintWarning) covers(line int) bool {
	for _, rg := range w.Location {
		if rg.Start.Line <= line && max(rg.End.Line, rg.Start.Line) >= line {
			return true
		}
	}
	return false
}
