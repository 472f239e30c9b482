package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
)

// RefuseRealRootEnv, when set, makes the in-place driver refuse to work
// on this machine's own root. Test harnesses set it: the development and
// CI machines carry container markers, and a build in place there would
// rewrite the machine. Builds in place in a test run in a throwaway
// container or in a scratch tree.
const RefuseRealRootEnv = "MYBUILD_REFUSE_IN_PLACE_ON_ROOT"

// refuseRealRoot fails when root is this machine's "/" and the
// environment asks for that to be refused.
func refuseRealRoot(root string, getenv func(string) string) error {
	if getenv(RefuseRealRootEnv) == "" {
		return nil
	}
	resolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("in place: %w", err)
	}
	if resolved == "/" {
		return fmt.Errorf("refusing to build in place on this machine's root: %s is set (a test harness)", RefuseRealRootEnv)
	}
	return nil
}

// SetRefuseRealRoot sets RefuseRealRootEnv for this process and its
// children: TestMain of every package that may build calls it.
func SetRefuseRealRoot() {
	os.Setenv(RefuseRealRootEnv, "1")
}
