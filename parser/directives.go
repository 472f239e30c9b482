package parser

import (
	"bytes"
	"unicode"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

const syntaxIgnored = "syntax directive ignored: mybuild uses its built-in Dockerfile front end"

// directives reads the parser directives at the top of a Dockerfile (# escape=,
// # syntax=, # check=) the way BuildKit's parser does: line by line with
// BuildKit's DirectiveParser, which stops at the first line that is not a
// directive. BuildKit applies escape= itself; this pass records syntax= and
// reports bad directives at the right line (BuildKit's own report is one
// line early).
func (d *Dockerfile) directives(data []byte) error {
	var dp bkparser.DirectiveParser
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if i == 0 {
			line = bytes.TrimPrefix(line, []byte{0xEF, 0xBB, 0xBF})
		}
		line = bytes.TrimLeftFunc(bytes.TrimRight(line, "\r\n"), unicode.IsSpace)
		dir, err := dp.ParseLine(line)
		if err != nil {
			return &Error{File: d.Name, Line: i + 1, Err: err}
		}
		if dir == nil {
			if len(line) > 0 && line[0] != '#' {
				return nil // an instruction: no directive can follow
			}
			continue
		}
		switch dir.Name {
		case "escape":
			if dir.Value != "\\" && dir.Value != "`" {
				return errorf(d.Name, i+1, "invalid escape token %q: must be \\ or `", dir.Value)
			}
		case "syntax":
			d.Syntax = dir.Value
			d.Warnings = append(d.Warnings, Warning{Line: i + 1, Message: syntaxIgnored})
		}
	}
	return nil
}
