package parser

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorString(t *testing.T) {
	base := errors.New("boom")
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{File: "Dockerfile", Line: 3, Err: base}, "Dockerfile:3: boom"},
		{&Error{File: "Dockerfile", Err: base}, "Dockerfile: boom"},
		{&Error{File: "ci/Dockerfile.dev", Line: 12, Err: base}, "ci/Dockerfile.dev:12: boom"},
		{&Error{Line: 2, Err: base}, ":2: boom"},
		{&Error{Err: base}, "boom"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(tc.err, base) {
			t.Errorf("%q does not unwrap to its cause", tc.want)
		}
	}
}

func TestErrorAt(t *testing.T) {
	d := mustParse(t, "FROM alpine\n\nRUN \\\n  true\nUSER app\n")
	cmds := d.Stages[0].Commands
	if got := Line(cmds[0]); got != 3 {
		t.Errorf("Line(RUN) = %d, want 3", got)
	}
	if got := Line(nil); got != 0 {
		t.Errorf("Line(nil) = %d, want 0", got)
	}

	cause := errors.New("exit status 1")
	err := d.ErrorAt(cmds[1], fmt.Errorf("run: %w", cause))
	if got, want := err.Error(), "Dockerfile:5: run: exit status 1"; got != want {
		t.Errorf("ErrorAt = %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Error("ErrorAt lost the cause")
	}

	// An *Error already in the chain keeps its line.
	wrapped := fmt.Errorf("step: %w", err)
	if got := d.ErrorAt(cmds[0], wrapped); got != wrapped {
		t.Errorf("ErrorAt re-wrapped an *Error: %v", got)
	}
	if got := d.ErrorAtLine(7, nil); got != nil {
		t.Errorf("ErrorAtLine(nil) = %v", got)
	}
	if got, want := d.ErrorAtLine(0, cause).Error(), "Dockerfile: exit status 1"; got != want {
		t.Errorf("ErrorAtLine(0) = %q, want %q", got, want)
	}
}

// TestErrorsAreOneLine checks that BuildKit's wrappers are peeled: no
// "dockerfile parse error", no repeated line numbers, no stack.
func TestErrorsAreOneLine(t *testing.T) {
	for _, dir := range caseDirs(t, "negative") {
		_, err := parseFile(dir + "/Dockerfile")
		if err == nil {
			continue // TestNegative reports it
		}
		msg := fmt.Sprintf("%+v", err)
		if strings.Contains(msg, "\n") || strings.Contains(msg, "parse error") || strings.Count(msg, "Dockerfile:") != 1 {
			t.Errorf("%s: noisy error %q", dir, msg)
		}
	}
}

func mustParse(t testing.TB, src string) *Dockerfile {
	t.Helper()
	d, err := Parse("Dockerfile", strings.NewReader(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}
