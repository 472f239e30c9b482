package parser

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotSupported is wrapped by errors for Dockerfile features that mybuild
// does not implement yet.
var ErrNotSupported = errors.New("not supported yet")

const multiStage = "multi-stage builds"

// support says which Dockerfile features mybuild implements. Parse rejects a
// feature marked false with "<feature> is not supported yet". Enabling one,
// once the build side handles it, is flipping its value here.
//
// Keys are instructions ("RUN"), their flags ("RUN --mount"), their
// heredocs ("RUN heredocs") and multiStage. An instruction missing here is
// unknown to BuildKit too, which reports it. A flag missing here is reported
// as unknown, even where BuildKit would silently ignore it (STOPSIGNAL).
var support = map[string]bool{
	"FROM":            true,
	"FROM --platform": true,
	multiStage:        true,

	"RUN":            true,
	"RUN --network":  true,
	"RUN --mount":    true,
	"RUN --security": true,
	"RUN --device":   false,
	"RUN heredocs":   true,

	"COPY":           true,
	"COPY --chown":   true,
	"COPY --chmod":   true,
	"COPY --from":    true,
	"COPY --link":    true,
	"COPY --parents": true,
	"COPY --exclude": true,
	"COPY heredocs":  true,

	"HEALTHCHECK":                  true,
	"HEALTHCHECK --interval":       true,
	"HEALTHCHECK --timeout":        true,
	"HEALTHCHECK --start-period":   true,
	"HEALTHCHECK --start-interval": true,
	"HEALTHCHECK --retries":        true,

	"ENV":        true,
	"WORKDIR":    true,
	"USER":       true,
	"CMD":        true,
	"ENTRYPOINT": true,
	"LABEL":      true,
	"EXPOSE":     true,
	"VOLUME":     true,
	"STOPSIGNAL": true,
	"SHELL":      true,
	"MAINTAINER": true,

	"ARG": true,
	"ADD": true,

	"ADD --chown":        true,
	"ADD --chmod":        true,
	"ADD --checksum":     true,
	"ADD --link":         true,
	"ADD --exclude":      true,
	"ADD --keep-git-dir": true,
	"ADD --unpack":       true,
	"ADD heredocs":       true,
	"ONBUILD":            true,
}

// unsupported is the error for a feature marked false in support.
func unsupported(feature string) error {
	verb := "is"
	if feature == multiStage || strings.HasSuffix(feature, " heredocs") {
		verb = "are"
	}
	return fmt.Errorf("%s %s %w", feature, verb, ErrNotSupported)
}

// checkInstruction rejects an unsupported instruction, or an unsupported
// flag of it, before BuildKit parses its arguments: "not supported yet" is
// the better message even when the arguments are also wrong.
func checkInstruction(instr string, flags []string, heredocs bool) error {
	ok, known := support[instr]
	if !known {
		return nil // BuildKit reports unknown instructions
	}
	if !ok {
		return unsupported(instr)
	}
	for _, name := range flagNames(flags) {
		key := instr + " --" + name
		if ok, known := support[key]; known && !ok {
			return unsupported(key)
		}
	}
	if heredocs && !support[instr+" heredocs"] {
		return unsupported(instr + " heredocs")
	}
	return nil
}

// checkFlags rejects flags that are not in the support table. BuildKit has
// already rejected flags it does not know for most instructions; this
// catches the ones it ignores.
func checkFlags(instr string, flags []string) error {
	for _, name := range flagNames(flags) {
		if _, known := support[instr+" --"+name]; !known {
			return fmt.Errorf("unknown flag: --%s", name)
		}
	}
	return nil
}

// flagNames returns the names of builder flags ("--name=value"), read the
// way BuildKit's BFlags.Parse reads them: "--" ends the flags, and anything
// not starting with "--" is left for BuildKit to reject.
func flagNames(flags []string) []string {
	var names []string
	for _, f := range flags {
		if f == "--" {
			break
		}
		rest, ok := strings.CutPrefix(f, "--")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, "=")
		names = append(names, name)
	}
	return names
}
