package build

import (
	"os"
	"testing"

	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
)

func TestMain(m *testing.M) {
	// RUN steps re-execute the test binary as the sandbox init.
	sandbox.Main()
	rootfs.SetRefuseRealRoot()
	os.Exit(m.Run())
}
