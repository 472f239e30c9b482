package imagetest

import (
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestComparableConfig(t *testing.T) {
	created := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	var cfg dockerspec.DockerOCIImage
	cfg.Created = &created
	cfg.Author = "Jane <jane@example.com>"
	cfg.Platform = ocispec.Platform{OS: "linux", Architecture: "amd64"}
	cfg.Config.Env = []string{"PATH=/bin", "A=b&c"}
	cfg.Config.WorkingDir = "/"
	cfg.Config.Shell = []string{"/bin/sh", "-ec"}
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString("a"), digest.FromString("b")}}
	cfg.History = []ocispec.History{
		{Created: &created, CreatedBy: "COPY busybox /bin/busybox # buildkit", Comment: "buildkit.dockerfile.v0"},
		{Created: &created, CreatedBy: "ENV A=b&c", Comment: "buildkit.dockerfile.v0", EmptyLayer: true},
		{CreatedBy: "RUN /bin/sh -c echo '# buildkit' # buildkit"},
	}
	got, err := ComparableConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "architecture": "amd64",
  "author": "Jane <jane@example.com>",
  "config": {
    "Env": [
      "PATH=/bin",
      "A=b&c"
    ],
    "Shell": [
      "/bin/sh",
      "-ec"
    ],
    "WorkingDir": "/"
  },
  "history": [
    {
      "created_by": "COPY busybox /bin/busybox"
    },
    {
      "created_by": "ENV A=b&c",
      "empty_layer": true
    },
    {
      "created_by": "RUN /bin/sh -c echo '# buildkit'"
    }
  ],
  "os": "linux",
  "rootfs": {
    "diff_ids": 2,
    "type": "layers"
  }
}
`
	if string(got) != want {
		t.Errorf("ComparableConfig:\n%s\nwant:\n%s", got, want)
	}
}

func TestReadConfig(t *testing.T) {
	img := &ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Config:   ocispec.ImageConfig{User: "1000:1000", Cmd: []string{"sh"}},
	}
	for _, f := range []fixture{{config: img}, {config: img, asDir: true, nested: true}} {
		f.layers = [][]entry{{fileE("f", 0o644, "")}}
		cfg, err := ReadConfig(f.write(t))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Config.User != "1000:1000" || strings.Join(cfg.Config.Cmd, " ") != "sh" || len(cfg.RootFS.DiffIDs) != 1 {
			t.Errorf("ReadConfig: %+v", cfg)
		}
	}
}
