package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/rootfs"
	"golang.org/x/sys/unix"
)

// inPlaceRoot is a scratch tree for the in-place driver, never the
// machine's own root: a /dev with the nodes a shell needs, which the
// driver keeps, as it keeps a container's.
func inPlaceRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dev := filepath.Join(root, "dev")
	if err := os.Mkdir(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"urandom", 1, 9}} {
		if err := unix.Mknod(filepath.Join(dev, n.name), unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// The in-place driver gives what BuildKit gives, as the overlay driver
// does: every compatibility case but those with RUN --mount, which the
// in-place driver refuses before any step runs.
func TestInPlaceCompatWithBuildKit(t *testing.T) {
	cases, err := imagetest.CompatCases(compatDir)
	if err != nil || len(cases) == 0 {
		t.Fatalf("no compat cases: %v", err)
	}
	opts := imagetest.CompatOptions(t, compatDir)
	opts.Ignore = nil
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			dir := imagetest.Context(t, filepath.Join(compatDir, name))
			buildArgs, target, err := imagetest.CaseOptions(filepath.Join(compatDir, name))
			if err != nil {
				t.Fatal(err)
			}
			df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			root := inPlaceRoot(t)
			archive, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) {
				o.BuildArgs, o.Target = buildArgs, target
				o.Driver = rootfs.NewInPlace(o.Store, root, []string{"/dev", "/proc", "/sys"})
			})
			if strings.Contains(string(df), "--mount") {
				if err == nil || !strings.Contains(err.Error(), "is not supported by the in-place root filesystem driver") {
					t.Fatalf("RUN --mount in place: err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fsys, err := imagetest.Flatten(archive)
			if err != nil {
				t.Fatal(err)
			}
			wantFS := expectedListing(t, filepath.Join(compatDir, name))
			if got := fsys.Listing(opts); got != wantFS {
				t.Errorf("root filesystem differs from BuildKit's:\n%s", lineDiff(wantFS, got))
			}
			cfg, err := imagetest.ReadConfig(archive)
			if err != nil {
				t.Fatal(err)
			}
			gotCfg, err := imagetest.ComparableConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if wantCfg := expectedConfig(t, filepath.Join(compatDir, name)); strings.TrimSpace(string(gotCfg)) != wantCfg {
				t.Errorf("config differs from BuildKit's:\n%s", lineDiff(wantCfg, strings.TrimSpace(string(gotCfg))))
			}
		})
	}
}
