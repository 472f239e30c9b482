package e2e

import (
	"os"
	"testing"

	"github.com/mybuild/mybuild/rootfs"
)

func TestMain(m *testing.M) {
	// This machine is no throwaway container: nothing may build in place
	// on it. Builds in place run in containers of the test's private
	// Docker engine, which do not inherit this variable.
	rootfs.SetRefuseRealRoot()
	os.Exit(m.Run())
}
