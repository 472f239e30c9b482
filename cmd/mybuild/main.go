// Command mybuild builds OCI images from Dockerfiles without a daemon.
package main

import (
	"os"

	"github.com/mybuild/mybuild/isolation"
	"github.com/mybuild/mybuild/sandbox"
)

func main() {
	// When re-executed as a step's sandbox init, this never returns.
	sandbox.Main()
	// When re-executed in a user namespace (rootless), this waits for its
	// id maps and executes the program again.
	isolation.Main()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
