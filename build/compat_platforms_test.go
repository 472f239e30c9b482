package build

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/internal/imagetest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const compatPlatformsDir = "testdata/compat-platforms"

// TestCompatPlatforms builds every case of testdata/compat-platforms for
// the platforms its platforms.txt lists, in one build, and checks that
// each platform's image has the root filesystem and config BuildKit
// v0.34.2 gave it in the same multi-platform build.
func TestCompatPlatforms(t *testing.T) {
	cases, err := imagetest.CompatCases(compatPlatformsDir)
	if err != nil || len(cases) == 0 {
		t.Fatalf("no compat cases: %v", err)
	}
	opts := imagetest.CompatOptions(t, compatPlatformsDir)
	opts.Ignore = nil
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			caseDir := filepath.Join(compatPlatformsDir, name)
			names, err := imagetest.CasePlatforms(caseDir)
			if err != nil || len(names) < 2 {
				t.Fatalf("platforms.txt: %v %v", names, err)
			}
			var platforms []ocispec.Platform
			for _, n := range names {
				p, err := image.ParsePlatform(n)
				if err != nil {
					t.Fatal(err)
				}
				platforms = append(platforms, p)
			}
			archive, _ := testBuild(t, imagetest.Context(t, caseDir), t.TempDir(), func(o *Options) { o.Platforms = platforms })
			for _, p := range names {
				_, arch, _ := strings.Cut(p, "/")
				fsys, err := imagetest.Flatten(archive, imagetest.ForArch(arch))
				if err != nil {
					t.Fatal(err)
				}
				want := strings.Join(applyDeviations(t, caseDir, imagetest.PlatformGolden(imagetest.RootfsGolden, p), "deviations.txt"), "\n")
				if got := fsys.Listing(opts); got != want {
					t.Errorf("%s: root filesystem differs from BuildKit's:\n%s", p, imagetest.LineDiff(want, got))
				}
				cfg, err := imagetest.ReadConfig(archive, imagetest.ForArch(arch))
				if err != nil {
					t.Fatal(err)
				}
				got, err := imagetest.ComparableConfig(cfg)
				if err != nil {
					t.Fatal(err)
				}
				wantCfg := strings.TrimSpace(strings.Join(applyDeviations(t, caseDir, imagetest.PlatformGolden(imagetest.ConfigGolden, p), "config-deviations.txt"), "\n"))
				if strings.TrimSpace(string(got)) != wantCfg {
					t.Errorf("%s: config differs from BuildKit's:\n%s", p, imagetest.LineDiff(wantCfg, strings.TrimSpace(string(got))))
				}
			}
		})
	}
}
