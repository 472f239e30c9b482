// Command mybuild builds OCI images from Dockerfiles without a daemon.
package main

import (
	"os"

	"github.com/mybuild/mybuild/sandbox"
)

func main() {
	// When re-executed as a step's sandbox init, this never returns.
	sandbox.Main()
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
