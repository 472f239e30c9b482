package parser

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse (or Expand and CanonicalString
// on what it returns) panic, that every error is a one-line *Error, and
// that no BuildKit panic reaches the recover in Parse. Seeds are every
// testdata Dockerfile plus testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*", "*", "Dockerfile"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, src string) {
		d, err := Parse("Dockerfile", strings.NewReader(src))
		if err != nil {
			checkFuzzError(t, src, err)
			return
		}
		if len(d.Stages) == 0 {
			t.Fatal("Parse succeeded without a stage")
		}
		if res, err := Lint("Dockerfile", []byte(src)); err != nil {
			checkFuzzError(t, src, err)
		} else if err := res.PrintTo(io.Discard); err != nil {
			t.Fatalf("PrintTo: %v", err)
		}
		env := []string{"A=1", "B=two words", "EMPTY="}
		for _, st := range d.Stages {
			for _, cmd := range st.Commands {
				if Line(cmd) < st.Line {
					t.Fatalf("command at line %d before its stage at %d", Line(cmd), st.Line)
				}
				CanonicalString(cmd)
				if err := d.Expand(cmd, env); err != nil {
					var pe *Error
					if !errors.As(err, &pe) || pe.Line != Line(cmd) {
						t.Fatalf("Expand error %v is not an *Error at line %d", err, Line(cmd))
					}
					continue
				}
				CanonicalString(cmd)
			}
		}
	})
}

func checkFuzzError(t *testing.T, src string, err error) {
	t.Helper()
	pe, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %T is not a *parser.Error: %v", err, err)
	}
	if pe.File != "Dockerfile" || pe.Err == nil {
		t.Fatalf("malformed error %#v", pe)
	}
	if lines := bytes.Count([]byte(src), []byte("\n")) + 1; pe.Line < 0 || pe.Line > lines {
		t.Fatalf("error at line %d of a %d-line file: %v", pe.Line, lines, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "internal error") {
		t.Fatalf("BuildKit panicked: %v", err)
	}
	if strings.ContainsAny(msg, "\n\r") && !strings.ContainsAny(src, "\r") {
		t.Fatalf("multi-line error: %q", msg)
	}
}

// FuzzExpandWord checks that no word makes BuildKit's lexer panic through
// ExpandWord or ExpandWords, with either escape token.
func FuzzExpandWord(f *testing.F) {
	for _, w := range []string{"$A", "${A:-x}", "${A:+x}", `\$A`, "${A%%*b}", "${A#\\*}", "${A/a*/b}", "'q'\"$B\"", "`$A"} {
		f.Add(w, false)
		f.Add(w, true)
	}
	env := []string{"A=a*b\\c", "B=two words", "EMPTY="}
	f.Fuzz(func(t *testing.T, word string, backtick bool) {
		d := &Dockerfile{Escape: '\\'}
		if backtick {
			d.Escape = '`'
		}
		if _, err := d.ExpandWord(word, env); err != nil && !strings.HasPrefix(err.Error(), "expand ") {
			t.Fatalf("unexpected error shape: %v", err)
		}
		d.ExpandWords(word, env)
	})
}
