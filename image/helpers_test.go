package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// epoch is the fixed time of test fixtures.
var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// putLayer stores a layer holding one file, compressed as the OCI layer
// media type mt says. Gzip uses no compression, whose output cannot
// change with the Go version, so that goldens stay put.
func putLayer(t *testing.T, store *memStore, mt, name, content string) layer.Layer {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var blob bytes.Buffer
	switch mt {
	case ocispec.MediaTypeImageLayer:
		blob = raw
	case ocispec.MediaTypeImageLayerGzip:
		zw, _ := gzip.NewWriterLevel(&blob, gzip.NoCompression)
		zw.Write(raw.Bytes())
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	case ocispec.MediaTypeImageLayerZstd:
		zw, _ := zstd.NewWriter(&blob, zstd.WithEncoderConcurrency(1))
		zw.Write(raw.Bytes())
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("media type %q", mt)
	}
	d := digest.FromBytes(blob.Bytes())
	if err := store.PutBlob(d, int64(blob.Len()), bytes.NewReader(blob.Bytes())); err != nil {
		t.Fatal(err)
	}
	return layer.Layer{MediaType: mt, Digest: d, Size: int64(blob.Len()), DiffID: digest.FromBytes(raw.Bytes())}
}

var allCompressions = []string{ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd, ocispec.MediaTypeImageLayer}

// mixedImage has one layer per compression, files gz, zst and tar, and a
// history with empty-layer entries between and after them.
func mixedImage(t *testing.T, store *memStore) *Image {
	t.Helper()
	img := &Image{}
	created := epoch
	img.Config.Created = &created
	// A fixed platform, so that goldens are the same on every machine;
	// no reader of a single-image layout checks it.
	img.Config.OS = "linux"
	img.Config.Architecture = "amd64"
	img.Config.Config.Env = []string{"PATH=/usr/bin:/bin", "GREETING=hello world"}
	img.Config.Config.Entrypoint = []string{"/bin/sh", "-c"}
	img.Config.Config.Cmd = []string{"echo $GREETING"}
	img.Config.Config.WorkingDir = "/app"
	img.Config.Config.User = "1000:1000"
	img.Config.Config.Labels = map[string]string{"org.example.b": "2", "org.example.a": "1"}
	img.Config.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "53/udp": {}}
	at := func(min int) *time.Time { tm := epoch.Add(time.Duration(min) * time.Minute); return &tm }
	img.Config.History = []ocispec.History{
		{Created: at(1), CreatedBy: "COPY gz /gz # buildkit", Comment: "buildkit.dockerfile.v0"},
		{Created: at(2), CreatedBy: "ENV GREETING=hello world", Comment: "buildkit.dockerfile.v0", EmptyLayer: true},
		{Created: at(3), CreatedBy: "RUN /bin/sh -c printf zst >/zst\n\techo done # buildkit", Comment: "buildkit.dockerfile.v0"},
		{Created: at(4), CreatedBy: "COPY tar /tar # buildkit", Comment: "buildkit.dockerfile.v0"},
		{Created: at(5), CreatedBy: "WORKDIR /app", Comment: "buildkit.dockerfile.v0", EmptyLayer: true},
		{Created: at(6), CreatedBy: `CMD ["echo $GREETING"]`, Comment: "buildkit.dockerfile.v0", EmptyLayer: true},
	}
	for i, mt := range allCompressions {
		name := []string{"gz", "zst", "tar"}[i]
		img.Layers = append(img.Layers, putLayer(t, store, mt, name, "content of "+name+"\n"))
	}
	return img
}

// tool finds a client the tests need, failing (never skipping) without it.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed: apt-get install %s", name, name)
	}
	return p
}

// run runs a command and returns its standard output, failing on error.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.Bytes())
	}
	return out
}

// tarFiles reads a tar into memory: names in order, and the content of
// regular files.
func tarFiles(t *testing.T, p string) (names []string, files map[string][]byte) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files = map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			var b bytes.Buffer
			if _, err := b.ReadFrom(tr); err != nil {
				t.Fatal(err)
			}
			files[hdr.Name] = b.Bytes()
		}
	}
	return names, files
}

func readIndex(t *testing.T, dir string) ocispec.Index {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	return index
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

// writeLayout makes an OCI layout in dir by hand: blobs under their
// digests, and an index.json listing manifests.
func writeLayout(t *testing.T, dir string, manifests []ocispec.Descriptor, blobs ...[]byte) {
	t.Helper()
	blobDir := filepath.Join(dir, ocispec.ImageBlobsDir, "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if err := os.WriteFile(filepath.Join(blobDir, digest.FromBytes(b).Encoded()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	index, err := json.Marshal(newIndex(manifests...))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ocispec.ImageIndexFile), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ocispec.ImageLayoutFile), layoutJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// blobDescriptor describes data as a blob of media type mt.
func blobDescriptor(mt string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

// writers are the write functions of the transports, by transport name,
// for tests that try every one.
var writers = map[string]func(ctx context.Context, path, name string, img *Image, store Store) (*Manifest, error){
	"oci-archive":    WriteOCIArchive,
	"oci":            WriteOCILayout,
	"docker-archive": WriteDockerArchive,
}

// loadOCIArchive opens the image of an OCI archive and loads it into
// store.
func loadOCIArchive(path, name string, platform ocispec.Platform, store Store) (*Image, error) {
	src, err := OpenOCIArchive(context.Background(), path, name, platform)
	if err != nil {
		return nil, err
	}
	return src.Load(context.Background(), store)
}

// loadOCILayout opens the image of an OCI layout and loads it into store.
func loadOCILayout(dir, name string, platform ocispec.Platform, store Store) (*Image, error) {
	src, err := OpenOCILayout(dir, name, platform)
	if err != nil {
		return nil, err
	}
	return src.Load(context.Background(), store)
}

// loadDockerArchive opens the image of a docker-archive and loads it into
// store.
func loadDockerArchive(path, name string, store Store) (*Image, error) {
	src, err := OpenDockerArchive(context.Background(), path, name)
	if err != nil {
		return nil, err
	}
	return src.Load(context.Background(), store)
}
