package parser

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// ParseTrigger parses an ONBUILD trigger of a base image, which runs right
// after the FROM at line. As in BuildKit, the trigger is read with the
// default escape token; it must be one supported instruction, and neither
// FROM, ONBUILD nor MAINTAINER. Errors name line.
func (d *Dockerfile) ParseTrigger(expr string, line int) (instructions.Command, error) {
	t, err := Parse(d.Name, strings.NewReader("FROM scratch\n"+expr))
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return nil, &Error{File: d.Name, Line: line, Err: fmt.Errorf("ONBUILD trigger %q: %w", expr, pe.Err)}
		}
		return nil, err
	}
	if len(t.Stages) > 1 {
		return nil, &Error{File: d.Name, Line: line, Err: fmt.Errorf("ONBUILD trigger %q: FROM isn't allowed as an ONBUILD trigger", expr)}
	}
	if len(t.Stages[0].Commands) != 1 {
		return nil, &Error{File: d.Name, Line: line, Err: fmt.Errorf("ONBUILD trigger %q is not one instruction", expr)}
	}
	cmd := t.Stages[0].Commands[0]
	switch cmd.(type) {
	case *instructions.OnbuildCommand, *instructions.MaintainerCommand:
		return nil, &Error{File: d.Name, Line: line, Err: fmt.Errorf("ONBUILD trigger %q: %s isn't allowed as an ONBUILD trigger", expr, strings.ToUpper(cmd.Name()))}
	}
	return cmd, nil
}
