package build

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/sandbox"
)

// preflight fails a build, before any step runs, when a stage it builds
// has a RUN step that the build may not or cannot run: an insecure step
// without the entitlement, or a mount type or network mode the root
// filesystem driver does not support. (ONBUILD triggers of base images
// are known only once the base is loaded: planRun checks them too.)
func (b *builder) preflight(g *graph) error {
	nodes := g.reachable()
	for _, n := range nodes {
		if n.def == nil {
			continue
		}
		for i, cmd := range n.def.Commands {
			c, ok := cmd.(*instructions.RunCommand)
			if !ok {
				continue
			}
			types, known := literalMountTypes(c)
			if !known {
				types = nil // the step checks them once its variables are known
			}
			if err := b.checkRun(c, types); err != nil {
				info := StepInfo{Index: i + 2, Total: len(n.def.Commands) + 1}
				if len(nodes) > 1 {
					info.Stage = n.label
				}
				return b.df.ErrorAt(cmd, fmt.Errorf("%s %s: %w", info.Label(), shortText(instructionText(cmd)), err))
			}
		}
	}
	return nil
}

// checkRun tells whether a RUN step with mounts of these types may run,
// and can on the driver.
func (b *builder) checkRun(c *instructions.RunCommand, mountTypes []string) error {
	if _, err := b.runSecurity(c); err != nil {
		return err
	}
	network, err := b.runNetwork(c)
	if err != nil {
		return err
	}
	return b.driver.Features().CheckRun(mountTypes, network)
}

// mountTypes are the types of c's mounts, once expanded.
func mountTypes(c *instructions.RunCommand) []string {
	var types []string
	for _, m := range instructions.GetMounts(c) {
		types = append(types, string(m.Type))
	}
	return types
}

// errVariable stops literalMountTypes at a word that needs expanding.
var errVariable = errors.New("the mount flags use variables")

// literalMountTypes are the --mount types of c as written. BuildKit parses
// mount flags only once their variables are expanded (until then every
// mount is a bind); this parses them with every word as it is, and known
// is false when a word needs the step's variables or quotes removed. The
// step's own expansion parses them again.
func literalMountTypes(c *instructions.RunCommand) (types []string, known bool) {
	err := c.Expand(func(word string) (string, error) {
		if strings.ContainsAny(word, "$\"'\\") {
			return "", errVariable
		}
		return word, nil
	})
	if err != nil {
		return nil, false
	}
	return mountTypes(c), true
}

// runNetwork is the network of a RUN step: its --network, or the build's.
func (b *builder) runNetwork(c *instructions.RunCommand) (sandbox.Network, error) {
	n := instructions.GetNetwork(c)
	if n == "" || n == "default" {
		return b.opts.Network, nil
	}
	return sandbox.ParseNetwork(n)
}
