package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The text and JSON forms of an inspection are pinned by goldens.
func TestInspectGolden(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	pkgDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// A relative path keeps the temp dir out of the reference shown.
	t.Chdir(t.TempDir())
	saveOCIDir(t, "layout", "v1", img, store)
	src, err := OpenOCILayout("layout", "v1", HostPlatform())
	if err != nil {
		t.Fatal(err)
	}
	i := src.Inspect("oci:layout:v1")
	var text bytes.Buffer
	if err := i.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(i, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(pkgDir)
	checkGolden(t, "inspect.txt.golden", text.Bytes())
	checkGolden(t, "inspect.json.golden", append(js, '\n'))
}

// The three transports describe the same image alike; the digests are
// those the writes returned.
func TestInspectTransports(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	tmp := t.TempDir()
	ociArchive := filepath.Join(tmp, "oci.tar")
	mArchive, err := WriteOCIArchive(context.Background(), ociArchive, "", img, store)
	if err != nil {
		t.Fatal(err)
	}
	mDir := saveOCIDir(t, filepath.Join(tmp, "layout"), "", img, store)
	mDocker := saveDockerArchive(t, filepath.Join(tmp, "docker.tar"), "app:1", img, store)

	for _, c := range []struct {
		ref  string
		open func() (*Source, error)
		m    *Manifest
	}{
		{"oci-archive", func() (*Source, error) {
			return OpenOCIArchive(context.Background(), ociArchive, "", HostPlatform())
		}, mArchive},
		{"oci", func() (*Source, error) { return OpenOCILayout(filepath.Join(tmp, "layout"), "latest", HostPlatform()) }, mDir},
		{"docker-archive", func() (*Source, error) {
			return OpenDockerArchive(context.Background(), filepath.Join(tmp, "docker.tar"), "app:1")
		}, mDocker},
	} {
		src, err := c.open()
		if err != nil {
			t.Fatal(err)
		}
		i := src.Inspect(c.ref)
		if i.Manifest.Digest != c.m.Descriptor.Digest || i.Manifest.Size != c.m.Descriptor.Size || i.Manifest.MediaType != ocispec.MediaTypeImageManifest {
			t.Errorf("%s: manifest %+v, want %+v", c.ref, i.Manifest, c.m.Descriptor)
		}
		if i.Config.Digest != c.m.Config.Digest || i.Config.Size != c.m.Config.Size {
			t.Errorf("%s: config %+v, want %+v", c.ref, i.Config, c.m.Config)
		}
		var manifest ocispec.Manifest
		json.Unmarshal(c.m.ManifestJSON, &manifest)
		size := c.m.Descriptor.Size + c.m.Config.Size
		for _, l := range manifest.Layers {
			size += l.Size
		}
		if i.Size != size {
			t.Errorf("%s: size %d, want %d", c.ref, i.Size, size)
		}
		if i.Reference != c.ref || i.Image.Config.WorkingDir != "/app" || len(i.Image.RootFS.DiffIDs) != 3 {
			t.Errorf("%s: %+v", c.ref, i)
		}
		var layers []LayerInfo
		for _, row := range i.History {
			if row.Layer != nil {
				layers = append(layers, *row.Layer)
			}
		}
		if len(i.History) != 6 || len(layers) != 3 {
			t.Fatalf("%s: history %+v", c.ref, i.History)
		}
		for n, l := range layers {
			want := LayerInfo{Index: n, MediaType: manifest.Layers[n].MediaType, Digest: manifest.Layers[n].Digest, Size: manifest.Layers[n].Size, DiffID: img.Layers[n].DiffID}
			if l != want {
				t.Errorf("%s: layer %d = %+v, want %+v", c.ref, n, l, want)
			}
		}
	}
}

func TestHistoryRows(t *testing.T) {
	layers := []LayerInfo{{Index: 0}, {Index: 1}}
	empty := ocispec.History{CreatedBy: "ENV", EmptyLayer: true}
	made := ocispec.History{CreatedBy: "RUN"}
	for _, c := range []struct {
		name    string
		history []ocispec.History
		want    string // per row: L<index> or -, then E (empty), M (made a layer) or - (no entry)
	}{
		{"interleaved", []ocispec.History{empty, made, empty, made, empty}, "-E L0M -E L1M -E"},
		{"no history", nil, "L0- L1-"},
		{"short history", []ocispec.History{made}, "L0M L1-"},
		{"long history", []ocispec.History{made, made, made}, "L0M L1M -M"},
	} {
		var got []string
		for _, row := range historyRows(c.history, layers) {
			s := "-"
			if row.Layer != nil {
				s = "L" + string(rune('0'+row.Layer.Index))
			}
			switch {
			case row.History == nil:
				s += "-"
			case row.History.EmptyLayer:
				s += "E"
			default:
				s += "M"
			}
			got = append(got, s)
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: %s, want %s", c.name, g, c.want)
		}
	}
}

// A docker-archive may hold compressed layers: Inspect hashes them, and
// gives the digests Load gives, without storing anything. Before Docker 25,
// `docker save` linked a layer held twice to its first copy.
func TestInspectCompressedDockerArchive(t *testing.T) {
	store := newMemStore()
	img := testImage(t, store) // gzip layers
	img.Layers = append(img.Layers, img.Layers[0])
	img.Config.History = append(img.Config.History, ocispec.History{CreatedBy: "COPY a /"})
	m, _ := img.Manifest()
	p := filepath.Join(t.TempDir(), "d.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	add := func(hdr *tar.Header, data []byte) {
		hdr.Mode, hdr.Size = 0o644, int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	entry := dockerManifestEntry{Config: "config.json", Layers: []string{"a/layer.tar", "b/layer.tar", "c/layer.tar"}}
	add(&tar.Header{Name: "a/layer.tar", Typeflag: tar.TypeReg}, store.blobs[img.Layers[0].Digest])
	add(&tar.Header{Name: "b/layer.tar", Typeflag: tar.TypeReg}, store.blobs[img.Layers[1].Digest])
	add(&tar.Header{Name: "c/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../a/layer.tar"}, nil)
	add(&tar.Header{Name: "config.json", Typeflag: tar.TypeReg}, m.ConfigJSON)
	mj, _ := json.Marshal([]dockerManifestEntry{entry})
	add(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg}, mj)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	src, err := OpenDockerArchive(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	i := src.Inspect("docker-archive:" + p)
	if i.Manifest.Digest != m.Descriptor.Digest {
		t.Errorf("manifest %s, want %s", i.Manifest.Digest, m.Descriptor.Digest)
	}
	for n, row := range i.History {
		if l := row.Layer; l == nil || l.Digest != img.Layers[n].Digest || l.MediaType != ocispec.MediaTypeImageLayerGzip {
			t.Errorf("row %d = %+v", n, row.Layer)
		}
	}
	if want := m.Descriptor.Size + m.Config.Size + img.Layers[0].Size + img.Layers[1].Size; i.Size != want {
		t.Errorf("size %d, want %d (a repeated layer counts once)", i.Size, want)
	}
	dst := newMemStore()
	got, err := src.Load(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	if gm, _ := got.Manifest(); gm.Descriptor.Digest != m.Descriptor.Digest || dst.puts != 2 {
		t.Errorf("load: manifest %s, %d blobs stored", gm.Descriptor.Digest, dst.puts)
	}
}
