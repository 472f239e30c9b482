package parser

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// checkCommand applies the checks that need BuildKit's typed command: flags
// BuildKit ignored, heredoc sources that reached the command without a
// heredoc on the line (COPY ["<<EOF", "/x"]), and input BuildKit accepts but
// that would do nothing or fail only later, at run time.
func checkCommand(instr string, cmd instructions.Command, flags []string) error {
	if err := checkFlags(instr, flags); err != nil {
		return err
	}
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		if len(c.Files) > 0 && !support["RUN heredocs"] {
			return unsupported("RUN heredocs")
		}
		if !hasCommand(c.ShellDependantCmdLine) {
			return errors.New("RUN requires a command")
		}
	case *instructions.CopyCommand:
		if len(c.SourceContents) > 0 && !support["COPY heredocs"] {
			return unsupported("COPY heredocs")
		}
	case *instructions.HealthCheckCommand:
		if isHealthNone(c) && len(flagNames(flags)) > 0 {
			return errors.New("HEALTHCHECK NONE takes no flags")
		}
	}
	return nil
}

func hasCommand(c instructions.ShellDependantCmdLine) bool {
	if len(c.CmdLine) == 0 {
		return false
	}
	if c.PrependShell {
		return strings.TrimSpace(strings.Join(c.CmdLine, " ")) != ""
	}
	return c.CmdLine[0] != ""
}

func isHealthNone(c *instructions.HealthCheckCommand) bool {
	return c.Health != nil && len(c.Health.Test) == 1 && c.Health.Test[0] == "NONE"
}

// jsonWarning returns a warning when arguments start like a JSON array but
// are not one, so BuildKit took them in shell form or as plain words:
// CMD ["a" "b"] runs `/bin/sh -c '["a" "b"]'`. It returns "" otherwise.
func jsonWarning(instr string, cmd instructions.Command) string {
	const (
		shell = "%s looks like exec form but is not valid JSON, so it runs in shell form"
		words = "%s looks like JSON form but is not valid JSON, so its arguments are split at whitespace"
	)
	var first, format string
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		first, format = shellText(c.ShellDependantCmdLine), shell
	case *instructions.CmdCommand:
		first, format = shellText(c.ShellDependantCmdLine), shell
	case *instructions.EntrypointCommand:
		first, format = shellText(c.ShellDependantCmdLine), shell
	case *instructions.HealthCheckCommand:
		if c.Health != nil && len(c.Health.Test) > 1 && c.Health.Test[0] == "CMD-SHELL" {
			first, format = c.Health.Test[1], shell
		}
	case *instructions.CopyCommand:
		if len(c.SourcePaths) > 0 {
			first, format = c.SourcePaths[0], words
		}
	case *instructions.VolumeCommand:
		if len(c.Volumes) > 0 {
			first, format = c.Volumes[0], words
		}
	}
	if !strings.HasPrefix(first, `["`) {
		return ""
	}
	return fmt.Sprintf(format, instr)
}

func shellText(c instructions.ShellDependantCmdLine) string {
	if !c.PrependShell || len(c.CmdLine) == 0 {
		return ""
	}
	return c.CmdLine[0]
}
