package parser

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Error is an error caused by the Dockerfile.
type Error struct {
	File string // Dockerfile name, as given to Parse
	Line int    // 1-based line, 0 when the error is about the whole file
	Err  error
}

// Error returns "<File>:<Line>: <Err>", or "<File>: <Err>" when Line is 0.
func (e *Error) Error() string {
	prefix := e.File
	if e.Line > 0 {
		prefix += ":" + strconv.Itoa(e.Line)
	}
	if prefix == "" {
		return e.Err.Error()
	}
	return prefix + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Line returns the first line (1-based) of cmd, or 0 if it is unknown.
func Line(cmd instructions.Command) int {
	if cmd == nil {
		return 0
	}
	return firstLine(cmd.Location())
}

// ErrorAt returns err as an *Error at cmd's line. An err that already holds
// an *Error is returned unchanged, so the innermost line wins.
func (d *Dockerfile) ErrorAt(cmd instructions.Command, err error) error {
	return d.ErrorAtLine(Line(cmd), err)
}

// ErrorAtLine returns err as an *Error at line. An err that already holds an
// *Error is returned unchanged.
func (d *Dockerfile) ErrorAtLine(line int, err error) error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	return &Error{File: d.name(), Line: line, Err: err}
}

func (d *Dockerfile) name() string {
	if d == nil {
		return ""
	}
	return d.Name
}

// fromBuildKit converts an error from BuildKit's front end into an *Error.
// BuildKit attaches the line as a *parser.LocationError, possibly under
// other wrappers; the line comes from there when present, otherwise line
// is used. The LocationError itself is peeled off so that the message is
// BuildKit's one clean sentence.
func fromBuildKit(file string, line int, err error) *Error {
	var le *bkparser.LocationError
	if errors.As(err, &le) {
		if l := firstLocation(le.Locations); l > 0 {
			line = l
		}
		if inner := le.Unwrap(); inner != nil {
			err = inner
		}
	}
	return &Error{File: file, Line: line, Err: err}
}

func firstLocation(locs [][]bkparser.Range) int {
	for _, r := range locs {
		if l := firstLine(r); l > 0 {
			return l
		}
	}
	return 0
}

func firstLine(r []bkparser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

// errorf builds an *Error at line.
func errorf(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Err: fmt.Errorf(format, args...)}
}
