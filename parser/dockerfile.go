package parser

import "github.com/moby/buildkit/frontend/dockerfile/instructions"

// Dockerfile is a parsed Dockerfile. Commands are BuildKit's typed values,
// unexpanded: call Expand on each one with the environment in effect when
// it runs.
type Dockerfile struct {
	Name     string                    // file name used in error messages, e.g. "Dockerfile"
	Stages   []Stage                   // build stages, in file order
	MetaArgs []instructions.ArgCommand // ARGs before the first FROM
	Escape   rune                      // '\\' or '`' from the # escape= directive
	Syntax   string                    // value of a # syntax= directive, "" if none (ignored by mybuild)
	Warnings []Warning                 // things worth telling the user, in line order
}

// Stage is one FROM and the commands that follow it.
type Stage struct {
	Name     string // lower-cased "AS name", "" if none
	BaseName string // FROM argument, unexpanded
	Platform string // FROM --platform value, unexpanded
	Line     int    // line of the FROM
	Commands []instructions.Command
	// from is BuildKit's FROM, for the lint rules that need its keyword's
	// casing, its location or the comments above it.
	from *instructions.Stage
}

// Warning is a problem in the Dockerfile that does not stop the build.
type Warning struct {
	Line    int
	Message string
}

// escape returns the escape token, defaulting to backslash for a zero
// Dockerfile.
func (d *Dockerfile) escape() rune {
	if d == nil || d.Escape == 0 {
		return '\\'
	}
	return d.Escape
}
