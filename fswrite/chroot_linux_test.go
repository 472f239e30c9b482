package fswrite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests of what happens to a tree at "/" (a build in place) run
// ApplyLayer in a child of the test binary chroot'ed into a scratch tree:
// never on this machine's own root.
const (
	chrootEnv      = "FSWRITE_TEST_APPLY_IN_CHROOT"
	chrootSentinel = "fswrite-chroot-sentinel"
	chrootLayer    = "layer.tar"
	keepEnv        = "FSWRITE_TEST_KEEP"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(chrootEnv); dir != "" {
		os.Exit(applyInChroot(dir))
	}
	os.Exit(m.Run())
}

// applyInChroot applies dir/layer.tar to dir, as "/" after chroot'ing
// into it, leaving alone the paths of $FSWRITE_TEST_KEEP (colon
// separated) and the two files of the test. Nothing is applied unless "/"
// is dir: the chroot worked and the sentinel the test put in dir is at
// its root.
func applyInChroot(dir string) int {
	//	chroot DIR; cd /
	if err := unix.Chroot(dir); err != nil {
		fmt.Fprintln(os.Stderr, "chroot:", err)
		return 3
	}
	if err := os.Chdir("/"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if _, err := os.Stat("/" + chrootSentinel); err != nil {
		fmt.Fprintln(os.Stderr, "not in the scratch tree:", err)
		return 3
	}
	f, err := os.Open("/" + chrootLayer)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Close()
	kept := append(strings.Split(os.Getenv(keepEnv), ":"), "/"+chrootSentinel, "/"+chrootLayer)
	keep := func(p string) bool {
		for _, k := range kept {
			if p == k || strings.HasPrefix(p, k+"/") {
				return true
			}
		}
		return false
	}
	if err := ApplyLayer(context.Background(), f, "/", keep); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// applyAtSlash applies the layer tar to the scratch tree root as "/",
// in a chroot'ed child, leaving alone keep (paths inside the tree).
func applyAtSlash(t *testing.T, root string, layer []byte, keep ...string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, chrootSentinel), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, chrootLayer), layer, 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), chrootEnv+"="+root, keepEnv+"="+strings.Join(keep, ":"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apply the layer at / in a chroot: %v\n%s", err, out)
	}
	for _, name := range []string{chrootSentinel, chrootLayer} {
		if err := os.Remove(filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
}
