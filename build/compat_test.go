package build

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const compatDir = "testdata/compat"

// TestCompatWithBuildKit builds every case of testdata/compat and checks
// that the flattened root filesystem and the image config are the ones
// BuildKit v0.34.2 produced for the same Dockerfile (see its README). The
// image is listed without the goldens' ignore list: BuildKit leaves empty
// /dev, /proc and /sys mount points in its layers, mybuild must leave none.
func TestCompatWithBuildKit(t *testing.T) {
	cases, err := imagetest.CompatCases(compatDir)
	if err != nil || len(cases) == 0 {
		t.Fatalf("no compat cases: %v", err)
	}
	opts := imagetest.CompatOptions(t, compatDir)
	opts.Ignore = nil
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := imagetest.Context(t, filepath.Join(compatDir, name))
			buildArgs, target, err := imagetest.CaseOptions(filepath.Join(compatDir, name))
			if err != nil {
				t.Fatal(err)
			}
			archive, _ := testBuild(t, dir, t.TempDir(), func(o *Options) {
				o.BuildArgs, o.Target = buildArgs, target
			})
			assertCompat(t, archive, name, opts)
		})
	}
}

// TestCompatMultiPlatform builds every case of testdata/compat for
// linux/amd64 and linux/386 in one run (386 needs no emulator on amd64)
// and checks that the amd64 image of the index is the one BuildKit made
// for amd64 alone: sharing stages, layers and the context between
// platforms changes nothing in an image. testdata/compat-platforms holds
// what BuildKit made of multi-platform builds (TestCompatPlatforms).
func TestCompatMultiPlatform(t *testing.T) {
	cases, err := imagetest.CompatCases(compatDir)
	if err != nil || len(cases) == 0 {
		t.Fatalf("no compat cases: %v", err)
	}
	opts := imagetest.CompatOptions(t, compatDir)
	opts.Ignore = nil
	for _, name := range cases {
		if name == "mounts" {
			// Its cache mount, shared by both platforms' steps as in
			// BuildKit, logs what they all wrote, in their order.
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := imagetest.Context(t, filepath.Join(compatDir, name))
			buildArgs, target, err := imagetest.CaseOptions(filepath.Join(compatDir, name))
			if err != nil {
				t.Fatal(err)
			}
			archive, res := testBuild(t, dir, t.TempDir(), func(o *Options) {
				o.BuildArgs, o.Target = buildArgs, target
				o.Platforms = []ocispec.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "386"}}
			})
			if len(res.Manifests) != 2 {
				t.Fatalf("%d manifests, want 2", len(res.Manifests))
			}
			assertCompat(t, archive, name, opts) // Flatten reads the host's image: amd64
		})
	}
}

// assertCompat compares the image in archive, built from the compat case
// name, with BuildKit's: its root filesystem and its config.
func assertCompat(t *testing.T, archive, name string, opts imagetest.ListingOptions) {
	t.Helper()
	fsys, err := imagetest.Flatten(archive)
	if err != nil {
		t.Fatal(err)
	}
	wantFS := expectedListing(t, filepath.Join(compatDir, name))
	if got := fsys.Listing(opts); got != wantFS {
		t.Errorf("root filesystem differs from BuildKit's:\n%s", imagetest.LineDiff(wantFS, got))
	}
	cfg, err := imagetest.ReadConfig(archive)
	if err != nil {
		t.Fatal(err)
	}
	gotCfg, err := imagetest.ComparableConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantCfg := expectedConfig(t, filepath.Join(compatDir, name))
	if strings.TrimSpace(string(gotCfg)) != wantCfg {
		t.Errorf("config differs from BuildKit's:\n%s", imagetest.LineDiff(wantCfg, strings.TrimSpace(string(gotCfg))))
	}
}

// expectedListing is BuildKit's listing of a case with the documented
// deviations.txt applied: the places where mybuild is deliberately, and
// correctly, different.
func expectedListing(t *testing.T, dir string) string {
	t.Helper()
	return strings.Join(applyDeviations(t, dir, "rootfs.golden", "deviations.txt"), "\n")
}

// expectedConfig is BuildKit's comparable config with the documented
// config-deviations.txt applied, each line replaced in place.
func expectedConfig(t *testing.T, dir string) string {
	t.Helper()
	return strings.TrimSpace(strings.Join(applyDeviations(t, dir, "config.golden.json", "config-deviations.txt"), "\n"))
}

// applyDeviations reads golden as lines and applies the deviations file:
// each run of "- old" lines is a block that must appear, as a whole, in the
// golden; it is replaced by the "+ new" lines that follow it. A stale
// deviation fails loudly.
func applyDeviations(t *testing.T, dir, golden, deviations string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, golden))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	dev, err := os.ReadFile(filepath.Join(dir, deviations))
	if os.IsNotExist(err) {
		return lines
	}
	if err != nil {
		t.Fatal(err)
	}
	var minus, plus []string
	flush := func() {
		if len(minus) == 0 && len(plus) == 0 {
			return
		}
		if len(minus) == 0 {
			t.Fatalf("%s: + lines must follow the - lines they replace: %q", deviations, plus)
		}
		at := indexBlock(lines, minus)
		if at < 0 {
			t.Fatalf("%s drops lines that %s does not have together: %q", deviations, golden, minus)
		}
		lines = slices.Replace(lines, at, at+len(minus), plus...)
		minus, plus = nil, nil
	}
	for _, d := range strings.Split(string(dev), "\n") {
		switch {
		case strings.HasPrefix(d, "- "):
			if len(plus) > 0 {
				flush()
			}
			minus = append(minus, d[2:])
		case strings.HasPrefix(d, "+ "):
			plus = append(plus, d[2:])
		default:
			flush()
		}
	}
	flush()
	return lines
}

// indexBlock finds where block appears in lines, -1 if it does not.
func indexBlock(lines, block []string) int {
	for i := 0; i+len(block) <= len(lines); i++ {
		if slices.Equal(lines[i:i+len(block)], block) {
			return i
		}
	}
	return -1
}
