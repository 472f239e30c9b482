package parser

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// expose runs the rules of an EXPOSE (dispatchExpose, portSpecs.parsePort):
// ExposeProtoCasing for "80/TCP", ExposeInvalidFormat for a host IP or
// port ("8080:80"). Its words are expanded first, as BuildKit does; a
// port that does not parse ends the checks, as the build fails on it.
func (r *lintRun) expose(c *instructions.ExposeCommand, s *lintState, lint *linter.Linter) bool {
	env := shell.EnvsFromSlice(s.env)
	for _, p := range c.Ports {
		words, err := r.lex.ProcessWords(p, env)
		if err != nil {
			return false
		}
		for _, raw := range words {
			parts := strings.Split(raw, ":")
			container := parts[len(parts)-1]
			port, proto, _ := strings.Cut(container, "/")
			switch strings.ToLower(proto) {
			case "", "tcp", "udp", "sctp":
			default:
				return false
			}
			if port == "" {
				return false
			}
			if proto != strings.ToLower(proto) {
				lint.Run(&linter.RuleExposeProtoCasing, c.Location(), linter.RuleExposeProtoCasing.Format(raw))
			}
			if len(parts) > 1 {
				lint.Run(&linter.RuleExposeInvalidFormat, c.Location(), linter.RuleExposeInvalidFormat.Format(raw))
			}
		}
	}
	return true
}
