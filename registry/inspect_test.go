package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// blobs lists the digests of the blobs that rec saw asked for.
func blobs(rec *registrytest.Recorder) []string {
	var ds []string
	for _, p := range rec.Requests() {
		if _, d, ok := strings.Cut(p, "/blobs/"); ok {
			ds = append(ds, d)
		}
	}
	return ds
}

// historyImage makes an OCI image with one gzip layer per step, each
// with its history entry, and an empty-layer entry at the end.
func historyImage(t *testing.T, steps ...string) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	var adds []mutate.Addendum
	for _, s := range steps {
		adds = append(adds, mutate.Addendum{
			Layer:   newLayer(t, types.OCILayer, map[string]string{"file-" + s: "content of " + s}),
			History: v1.History{CreatedBy: "RUN make " + s},
		})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.History = append(cfg.History, v1.History{CreatedBy: `CMD ["app"]`, EmptyLayer: true})
	cfg.Config.Cmd = []string{"app"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// checkInspection compares an inspection with the image that was pushed.
func checkInspection(t *testing.T, i *image.Inspection, want v1.Image) {
	t.Helper()
	raw, _ := want.RawManifest()
	m, _ := want.Manifest()
	cfgName, _ := want.ConfigName()
	cfg, _ := want.ConfigFile()
	if i.Manifest.Digest != digest.FromBytes(raw) || i.Manifest.Size != int64(len(raw)) || i.Manifest.MediaType != string(m.MediaType) {
		t.Errorf("manifest %+v, want %s (%d bytes, %s)", i.Manifest, digest.FromBytes(raw), len(raw), m.MediaType)
	}
	if i.Config.Digest.String() != cfgName.String() || i.Config.Size != m.Config.Size || i.Config.MediaType != string(m.Config.MediaType) {
		t.Errorf("config %+v, want %+v", i.Config, m.Config)
	}
	size := int64(len(raw)) + m.Config.Size
	var layers []image.LayerInfo
	for _, row := range i.History {
		if row.Layer != nil {
			layers = append(layers, *row.Layer)
		}
	}
	if len(layers) != len(m.Layers) || len(i.History) != len(cfg.History) {
		t.Fatalf("history %+v, want %d layers and %d entries", i.History, len(m.Layers), len(cfg.History))
	}
	for n, l := range m.Layers {
		size += l.Size
		got := layers[n]
		if got.Digest.String() != l.Digest.String() || got.Size != l.Size || got.MediaType != string(l.MediaType) ||
			got.DiffID.String() != cfg.RootFS.DiffIDs[n].String() {
			t.Errorf("layer %d = %+v, want %+v", n, got, l)
		}
	}
	for n, row := range i.History {
		if row.History == nil || row.History.CreatedBy != cfg.History[n].CreatedBy {
			t.Errorf("history %d = %+v, want created_by %q", n, row.History, cfg.History[n].CreatedBy)
		}
	}
	if i.Size != size {
		t.Errorf("size %d, want %d", i.Size, size)
	}
}

// Inspect picks the platform's image of an index, and reads only
// manifests and the config: no layer blob.
func TestInspectIndex(t *testing.T) {
	reg := registrytest.Start(t)
	amd, arm := historyImage(t, "amd1", "amd2"), historyImage(t, "arm1")
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	write(t, reg.Ref("multi:1"), idx, nil)

	for _, tc := range []struct {
		platform string
		want     v1.Image
	}{
		{"linux/amd64", amd},
		{"linux/arm64/v8", arm},
	} {
		p, _ := parsePlatform(tc.platform)
		rec := &registrytest.Recorder{Inner: http.DefaultTransport.(*http.Transport).Clone()}
		i, err := Inspect(context.Background(), "docker://"+reg.Ref("multi:1"), WithPlatform(p), WithTransport(rec))
		if err != nil {
			t.Fatalf("%s: %v", tc.platform, err)
		}
		checkInspection(t, i, tc.want)
		if i.Reference != "docker://"+reg.Ref("multi:1") {
			t.Errorf("%s: reference %q", tc.platform, i.Reference)
		}
		cfgName, _ := tc.want.ConfigName()
		if got := blobs(rec); len(got) != 1 || got[0] != cfgName.String() {
			t.Errorf("%s: blobs asked for: %v, want only the config %s (requests: %v)", tc.platform, got, cfgName, rec.Requests())
		}
	}

	p, _ := parsePlatform("linux/s390x")
	_, err := Inspect(context.Background(), reg.Ref("multi:1"), WithPlatform(p))
	want := fmt.Sprintf("inspect %s: no image for platform linux/s390x (the index has linux/amd64, linux/arm64/v8)", reg.Ref("multi:1"))
	if err == nil || err.Error() != want || !errors.Is(err, ErrNoPlatform) {
		t.Errorf("got %v, want %s", err, want)
	}
}

// A Docker schema 2 image keeps its media types, as the registry holds
// them; a layer held twice counts once in the size.
func TestInspectDockerSchema2(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	l := newLayer(t, types.DockerLayer, map[string]string{"a": "a"})
	img, err := mutate.AppendLayers(empty.Image, l, newLayer(t, types.DockerLayer, map[string]string{"b": "b"}), l)
	if err != nil {
		t.Fatal(err)
	}
	d := write(t, reg.Ref("docker:1"), img, nil)
	i, err := Inspect(context.Background(), reg.Ref("docker@"+d.String()))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	m, _ := img.Manifest()
	if i.Manifest.MediaType != string(types.DockerManifestSchema2) || i.Config.MediaType != string(types.DockerConfigJSON) {
		t.Errorf("media types %s, %s", i.Manifest.MediaType, i.Config.MediaType)
	}
	if want := int64(len(raw)) + m.Config.Size + m.Layers[0].Size + m.Layers[1].Size; i.Size != want {
		t.Errorf("size %d, want %d (a repeated layer counts once)", i.Size, want)
	}
	for n, row := range i.History {
		if row.Layer == nil || row.Layer.MediaType != string(types.DockerLayer) || row.Layer.Digest.String() != m.Layers[n].Digest.String() {
			t.Errorf("row %d = %+v", n, row.Layer)
		}
	}
	if i.Reference != "docker://"+reg.Ref("docker@"+d.String()) {
		t.Errorf("reference %q", i.Reference)
	}
}

// Failures are one line, with the kind for errors.Is, as Pull's are.
func TestInspectErrors(t *testing.T) {
	reg := registrytest.Start(t)
	write(t, reg.Ref("app:1"), historyImage(t, "a"), nil)
	ctx := context.Background()

	_, err := Inspect(ctx, reg.Ref("app:nope"))
	if want := "inspect " + reg.Ref("app:nope") + ": tag not found"; err == nil || err.Error() != want || !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tag: got %v, want %s", err, want)
	}
	_, err = Inspect(ctx, reg.Ref("nothing:1"))
	if want := "inspect " + reg.Ref("nothing:1") + ": "; err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrNotFound) {
		t.Errorf("missing repository: got %v", err)
	}
	_, err = Inspect(ctx, "Bad/Name")
	if err == nil || !strings.HasPrefix(err.Error(), `inspect Bad/Name: invalid image reference "Bad/Name"`) {
		t.Errorf("bad reference: got %v", err)
	}

	gone := registrytest.StartInMemory(t)
	gone.Stop()
	_, err = Inspect(ctx, gone.Ref("app:1"))
	if want := "inspect " + gone.Ref("app:1") + ": cannot reach registry " + gone.Host + ": connection refused"; err == nil || err.Error() != want || !errors.Is(err, ErrUnreachable) {
		t.Errorf("unreachable: got %v, want %s", err, want)
	}
}
