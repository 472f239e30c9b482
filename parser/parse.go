package parser

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// ErrNoFrom is wrapped by the error for a Dockerfile that does not start
// with FROM, including an empty one.
var ErrNoFrom = errors.New("a Dockerfile must start with FROM")

// Parse reads a whole Dockerfile. name is used in errors ("Dockerfile:3: ...").
// Every error caused by the Dockerfile's content is an *Error; an error
// reading r is returned wrapped, as it is not.
func Parse(name string, r io.Reader) (*Dockerfile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	// A non-nil linter with no Warn func: with a nil one, BuildKit panics on
	// a "# check=..." comment above an instruction. Lint parses again with
	// one that records.
	return parse(name, data, linter.New(&linter.Config{}))
}

// parse parses data, passing lint to BuildKit's instruction parser, which
// runs the rules it owns (FromAsCasing, StageNameCasing,
// MaintainerDeprecated, InvalidDefinitionDescription) through it, as it
// does NoEmptyContinuation here.
func parse(name string, data []byte, lint *linter.Linter) (*Dockerfile, error) {
	d := &Dockerfile{Name: name, Escape: bkparser.DefaultEscapeToken}
	if err := d.parse(data, lint); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dockerfile) parse(data []byte, lint *linter.Linter) (err error) {
	line := 0
	defer func() {
		// BuildKit's front end is not written for hostile input. No panic is
		// known to get here (see FuzzParse); this is the last line of defence.
		if r := recover(); r != nil {
			err = errorf(d.Name, line, "internal error in BuildKit's Dockerfile front end: %v", r)
		}
	}()
	if err := d.directives(data); err != nil {
		return err
	}
	res, err := bkparser.Parse(bytes.NewReader(data))
	if err != nil {
		return d.syntaxError(err)
	}
	d.Escape = res.EscapeToken
	for _, w := range res.Warnings {
		if w.URL == linter.RuleNoEmptyContinuation.URL && w.Location != nil {
			// A lint rule: Lint reports it, with BuildKit's words.
			lint.Run(&linter.RuleNoEmptyContinuation, []bkparser.Range{*w.Location}, linter.RuleNoEmptyContinuation.Format())
			continue
		}
		d.warn(warningLine(w), w.Short)
	}
	for _, n := range res.AST.Children {
		line = n.StartLine
		if err := d.add(n, lint); err != nil {
			return err
		}
	}
	if len(d.Stages) == 0 {
		return &Error{File: d.Name, Err: fmt.Errorf("no FROM: %w", ErrNoFrom)}
	}
	slices.SortStableFunc(d.Warnings, func(a, b Warning) int { return a.Line - b.Line })
	return nil
}

// syntaxError converts an error from BuildKit's line parser.
func (d *Dockerfile) syntaxError(err error) error {
	e := fromBuildKit(d.Name, 0, err)
	// BuildKit reports an empty file at its last line, with no sentinel.
	if e.Err.Error() == "file with no instructions" {
		return &Error{File: d.Name, Err: fmt.Errorf("no instructions: %w", ErrNoFrom)}
	}
	return e
}

// add checks one instruction, has BuildKit type it, and files it.
func (d *Dockerfile) add(n *bkparser.Node, lint *linter.Linter) error {
	instr := strings.ToUpper(n.Value)
	if err := checkInstruction(instr, n.Flags, len(n.Heredocs) > 0); err != nil {
		return &Error{File: d.Name, Line: n.StartLine, Err: err}
	}
	v, err := instructions.ParseInstructionWithLinter(n, lint)
	if err != nil {
		return fromBuildKit(d.Name, n.StartLine, err)
	}
	if st, ok := v.(*instructions.Stage); ok {
		return d.addStage(st, n)
	}
	cmd, ok := v.(instructions.Command)
	if !ok {
		return errorf(d.Name, n.StartLine, "%s: unexpected %T from BuildKit", instr, v)
	}
	if len(d.Stages) == 0 {
		if arg, ok := cmd.(*instructions.ArgCommand); ok {
			d.MetaArgs = append(d.MetaArgs, *arg)
			return nil
		}
		return errorf(d.Name, n.StartLine, "%s before FROM: %w", instr, ErrNoFrom)
	}
	if err := checkCommand(instr, cmd, n.Flags); err != nil {
		return &Error{File: d.Name, Line: n.StartLine, Err: err}
	}
	if n.Attributes["json"] && hasHeredocSource(cmd) {
		// BuildKit quietly makes an empty file of it.
		return errorf(d.Name, n.StartLine, "%s: a heredoc (<<) cannot be a source in the JSON form", instr)
	}
	if msg := jsonWarning(instr, cmd); msg != "" {
		d.warn(n.StartLine, msg)
	}
	st := &d.Stages[len(d.Stages)-1]
	st.Commands = append(st.Commands, cmd)
	return nil
}

func (d *Dockerfile) addStage(st *instructions.Stage, n *bkparser.Node) error {
	if len(d.Stages) > 0 && !support[multiStage] {
		return &Error{File: d.Name, Line: n.StartLine, Err: unsupported(multiStage)}
	}
	if err := checkFlags("FROM", n.Flags); err != nil {
		return &Error{File: d.Name, Line: n.StartLine, Err: err}
	}
	if st.Name != "" {
		for _, other := range d.Stages {
			if other.Name == st.Name {
				return errorf(d.Name, n.StartLine, "duplicate stage name %q (first at line %d)", st.Name, other.Line)
			}
		}
	}
	d.Stages = append(d.Stages, Stage{
		Name:     st.Name,
		BaseName: st.BaseName,
		Platform: st.Platform,
		Line:     n.StartLine,
		Commands: []instructions.Command{},
		from:     st,
	})
	return nil
}

func (d *Dockerfile) warn(line int, msg string) {
	d.Warnings = append(d.Warnings, Warning{Line: line, Message: msg})
}

func warningLine(w bkparser.Warning) int {
	if w.Location == nil {
		return 0
	}
	return w.Location.Start.Line
}

func hasHeredocSource(cmd instructions.Command) bool {
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		return len(c.SourceContents) > 0
	case *instructions.AddCommand:
		return len(c.SourceContents) > 0
	}
	return false
}
