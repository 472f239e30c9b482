package parser

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestCases parses each testdata/cases/<case>/Dockerfile and compares a dump
// of the result with testdata/cases/<case>/result.
func TestCases(t *testing.T) {
	for _, dir := range caseDirs(t, "cases") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			d, err := parseFile(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			golden(t, filepath.Join(dir, "result"), dump(d))
		})
	}
}

// TestNegative parses each testdata/negative/<case>/Dockerfile and compares
// the error with testdata/negative/<case>/error.
func TestNegative(t *testing.T) {
	for _, dir := range caseDirs(t, "negative") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, err := parseFile(filepath.Join(dir, "Dockerfile"))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *parser.Error: %v", err, err)
			}
			golden(t, filepath.Join(dir, "error"), err.Error()+"\n")
		})
	}
}

func caseDirs(t testing.TB, kind string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", kind, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no test cases in testdata/%s: %v", kind, err)
	}
	return dirs
}

func parseFile(path string) (*Dockerfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse("Dockerfile", f)
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./parser -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./parser -update to accept)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// dump renders a parsed Dockerfile for golden files: the directives and
// warnings, the ARGs before the first FROM, then one header line per stage and one line per command with
// its line number and CanonicalString. When expanding the command (with the
// environment its stage's ENVs built so far) changes it, an indented
// "=> " line shows the expanded form.
func dump(d *Dockerfile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "escape %c\n", d.Escape)
	if d.Syntax != "" {
		fmt.Fprintf(&b, "syntax %s\n", d.Syntax)
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(&b, "warning %d: %s\n", w.Line, w.Message)
	}
	for i := range d.MetaArgs {
		fmt.Fprintf(&b, "%d: meta %s\n", Line(&d.MetaArgs[i]), CanonicalString(&d.MetaArgs[i]))
	}
	for _, st := range d.Stages {
		fmt.Fprintf(&b, "%d: stage FROM", st.Line)
		if st.Platform != "" {
			fmt.Fprintf(&b, " --platform=%s", word(st.Platform))
		}
		fmt.Fprintf(&b, " %s", word(st.BaseName))
		if st.Name != "" {
			fmt.Fprintf(&b, " AS %s", st.Name)
		}
		b.WriteString("\n")
		var env []string
		for _, cmd := range st.Commands {
			before := CanonicalString(cmd)
			fmt.Fprintf(&b, "%d: %s\n", Line(cmd), before)
			if err := d.Expand(cmd, env); err != nil {
				fmt.Fprintf(&b, "  => error: %v\n", err)
				continue
			}
			if after := CanonicalString(cmd); after != before {
				fmt.Fprintf(&b, "  => %s\n", after)
			}
			if e, ok := cmd.(*instructions.EnvCommand); ok {
				for _, kv := range e.Env {
					env = append(env, kv.Key+"="+kv.Value)
				}
			}
		}
	}
	return b.String()
}
