package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The guard tests (not the driver, which would rewrite the machine if the
// guard failed) that the real root is refused, through a symlink too,
// and a scratch tree is not.
func TestRefuseRealRoot(t *testing.T) {
	set := func(string) string { return "1" }
	unset := func(string) string { return "" }
	link := filepath.Join(t.TempDir(), "root")
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"/", link, "/."} {
		if err := refuseRealRoot(root, set); err == nil || !strings.Contains(err.Error(), "refusing to build in place on this machine's root") {
			t.Errorf("%s: err = %v", root, err)
		}
		if err := refuseRealRoot(root, unset); err != nil {
			t.Errorf("%s without the variable: %v", root, err)
		}
	}
	if err := refuseRealRoot(t.TempDir(), set); err != nil {
		t.Errorf("scratch tree: %v", err)
	}
	if os.Getenv(RefuseRealRootEnv) == "" {
		t.Errorf("TestMain did not set %s", RefuseRealRootEnv)
	}
}
