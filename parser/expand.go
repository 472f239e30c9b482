package parser

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// lex returns a fresh lexer for d's escape token. shell.Lex is not safe for
// concurrent use, and a new one costs next to nothing, so none is kept.
func (d *Dockerfile) lex() *shell.Lex {
	return shell.NewLex(d.escape())
}

// ExpandWord expands variables in word with Docker's rules ($V, ${V},
// ${V:-x}, ${V:+x}, quotes and escapes), honouring d's escape token. env is
// a "K=V" list; later entries win.
func (d *Dockerfile) ExpandWord(word string, env []string) (string, error) {
	return expandWord(d.lex(), word, shell.EnvsFromSlice(env))
}

// ExpandWords is ExpandWord followed by splitting into words at unquoted
// white space, as shell.Lex.ProcessWords does.
func (d *Dockerfile) ExpandWords(word string, env []string) ([]string, error) {
	return expandWords(d.lex(), word, shell.EnvsFromSlice(env))
}

// Expand expands variables in cmd in place, as BuildKit's dispatcher does:
// through the command's own Expand (instructions.SupportsSingleWordExpansion)
// and ExpandRaw (SupportsSingleWordExpansionRaw, heredoc bodies, always with
// a backslash escape and without quote processing), plus EXPOSE, whose
// ports BuildKit expands into words itself. Like BuildKit, it leaves ARG to
// the caller, whose unset-variable rules differ. env is the environment in
// effect before cmd. Errors are *Error at the command's line.
func (d *Dockerfile) Expand(cmd instructions.Command, env []string) error {
	envs := shell.EnvsFromSlice(env)
	lex := d.lex()
	expand := func(word string) (string, error) { return expandWord(lex, word, envs) }
	if _, isArg := cmd.(*instructions.ArgCommand); !isArg {
		if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			if err := ex.Expand(expand); err != nil {
				return d.ErrorAt(cmd, err)
			}
		}
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		raw := shell.NewLex('\\')
		raw.SkipProcessQuotes = true
		err := ex.ExpandRaw(func(word string) (string, error) { return expandWord(raw, word, envs) })
		if err != nil {
			return d.ErrorAt(cmd, err)
		}
	}
	if c, ok := cmd.(*instructions.ExposeCommand); ok {
		var ports []string
		for _, p := range c.Ports {
			words, err := expandWords(lex, p, envs)
			if err != nil {
				return d.ErrorAt(cmd, err)
			}
			ports = append(ports, words...)
		}
		c.Ports = ports
	}
	return nil
}

// expandWord runs lex.ProcessWord on valid UTF-8 only: BuildKit's lexer
// turns invalid bytes into U+FFFD and prints a complaint on stderr.
func expandWord(lex *shell.Lex, word string, env shell.EnvGetter) (string, error) {
	if !utf8.ValidString(word) {
		return "", fmt.Errorf("expand %q: %w", word, errInvalidUTF8)
	}
	out, _, err := lex.ProcessWord(word, env)
	if err != nil {
		return "", expandError(word, err)
	}
	return out, nil
}

// expandWords is expandWord for lex.ProcessWords.
func expandWords(lex *shell.Lex, word string, env shell.EnvGetter) ([]string, error) {
	if !utf8.ValidString(word) {
		return nil, fmt.Errorf("expand %q: %w", word, errInvalidUTF8)
	}
	out, err := lex.ProcessWords(word, env)
	if err != nil {
		return nil, expandError(word, err)
	}
	return out, nil
}

var errInvalidUTF8 = errors.New("invalid UTF-8")

// expandError drops BuildKit's "failed to process %q" wrapper (and its
// stack) for a message naming the word once.
func expandError(word string, err error) error {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			break
		}
		err = inner
	}
	// "${A" ends with the scanner's EOF rune printed as U+FFFD.
	if err.Error() == "unsupported modifier (\uFFFD) in substitution" {
		err = errMissingBrace
	}
	return fmt.Errorf("expand %q: %w", word, err)
}

var errMissingBrace = errors.New("syntax error: missing '}'")
