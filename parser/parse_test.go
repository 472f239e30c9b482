package parser

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func TestParseTypedCommands(t *testing.T) {
	d := mustParse(t, "FROM Alpine:3 AS Base\nRUN --network=none make\nCOPY a /b\nENV A=1\n")
	if len(d.Stages) != 1 {
		t.Fatalf("%d stages", len(d.Stages))
	}
	st := d.Stages[0]
	if st.Name != "base" || st.BaseName != "Alpine:3" || st.Platform != "" || st.Line != 1 {
		t.Errorf("stage = %+v", st)
	}
	run, ok := st.Commands[0].(*instructions.RunCommand)
	if !ok {
		t.Fatalf("command 0 is %T", st.Commands[0])
	}
	if n := instructions.GetNetwork(run); n != instructions.NetworkNone {
		t.Errorf("network = %q", n)
	}
	if _, ok := st.Commands[1].(*instructions.CopyCommand); !ok {
		t.Errorf("command 1 is %T", st.Commands[1])
	}
	if _, ok := st.Commands[2].(*instructions.EnvCommand); !ok {
		t.Errorf("command 2 is %T", st.Commands[2])
	}
	if d.Name != "Dockerfile" || d.Escape != '\\' || d.Syntax != "" || len(d.Warnings) != 0 || len(d.MetaArgs) != 0 {
		t.Errorf("dockerfile = %+v", d)
	}
}

func TestParseUnexpandedFrom(t *testing.T) {
	d := mustParse(t, "FROM ${REGISTRY:-docker.io}/alpine\n")
	if got := d.Stages[0].BaseName; got != "${REGISTRY:-docker.io}/alpine" {
		t.Errorf("BaseName = %q", got)
	}
	if got, _ := d.ExpandWord(d.Stages[0].BaseName, nil); got != "docker.io/alpine" {
		t.Errorf("expanded BaseName = %q", got)
	}
}

func TestParseCRLFAndBOM(t *testing.T) {
	d := mustParse(t, "\xef\xbb\xbf# escape=`\r\nFROM alpine\r\nRUN echo a `\r\n  b\r\n")
	if d.Escape != '`' {
		t.Errorf("escape = %q", d.Escape)
	}
	if got, want := CanonicalString(d.Stages[0].Commands[0]), "RUN echo a   b"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestParseWarningsSorted: the parser's warnings are in line order, and
// the empty continuation line, which BuildKit's line parser reports first,
// is no longer one of them but the NoEmptyContinuation lint warning.
func TestParseWarningsSorted(t *testing.T) {
	src := "# syntax=x\nFROM alpine\nCMD [\"a\" \"b\"]\nRUN a \\\n\n  b\n"
	d := mustParse(t, src)
	var lines []int
	for _, w := range d.Warnings {
		lines = append(lines, w.Line)
	}
	if len(lines) != 2 || lines[0] != 1 || lines[1] != 3 {
		t.Errorf("warning lines = %v (%+v)", lines, d.Warnings)
	}
	res, err := Lint("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, w := range res.Warnings {
		rules = append(rules, w.Short())
	}
	if len(rules) != 2 || rules[1] != "NoEmptyContinuation: Empty continuation line (line 6)" {
		t.Errorf("lint warnings = %q", rules)
	}
}

func TestParseSentinels(t *testing.T) {
	for src, want := range map[string]error{
		"":                                   ErrNoFrom,
		"RUN x\n":                            ErrNoFrom,
		"FROM a\nRUN --device=/dev/fuse y\n": ErrNotSupported,
	} {
		_, err := Parse("Dockerfile", strings.NewReader(src))
		if !errors.Is(err, want) {
			t.Errorf("Parse(%q) = %v, want %v", src, err, want)
		}
	}
}

func TestParseName(t *testing.T) {
	_, err := Parse("ci/Dockerfile.dev", strings.NewReader("FROM a\nRUN --device=/dev/fuse x\n"))
	if err == nil {
		t.Fatal("RUN --device parsed")
	}
	if got, want := err.Error(), "ci/Dockerfile.dev:2: RUN --device is not supported yet"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseLongLine(t *testing.T) {
	src := "FROM alpine\nRUN echo " + strings.Repeat("x", 70000) + "\n"
	_, err := Parse("Dockerfile", strings.NewReader(src))
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if !strings.Contains(err.Error(), "line greater than max allowed size") {
		t.Errorf("err = %v", err)
	}
}

func TestParseReadError(t *testing.T) {
	cause := errors.New("disk on fire")
	_, err := Parse("Dockerfile", io.MultiReader(strings.NewReader("FROM a\n"), iotest.ErrReader(cause)))
	var pe *Error
	if !errors.Is(err, cause) || errors.As(err, &pe) {
		t.Errorf("err = %v, want the read error, not an *Error", err)
	}
}
