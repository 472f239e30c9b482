package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry/registrytest"
)

func openStore(t testing.TB) *cache.Store {
	t.Helper()
	s, err := cache.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// counter counts the requests that reach the registry, by method and
// kind: "HEAD manifest", "GET blob", "PATCH upload", ...
type counter struct {
	inner http.RoundTripper
	mu    sync.Mutex
	n     map[string]int
}

func newCounter() *counter {
	return &counter{inner: http.DefaultTransport.(*http.Transport).Clone(), n: map[string]int{}}
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := "other"
	switch p := req.URL.Path; {
	case strings.Contains(p, "/manifests/"):
		kind = "manifest"
	case strings.Contains(p, "/blobs/uploads"):
		kind = "upload"
	case strings.Contains(p, "/blobs/"):
		kind = "blob"
	case p == "/v2/":
		kind = "ping"
	}
	c.mu.Lock()
	c.n[req.Method+" "+kind]++
	c.n["total"]++
	c.mu.Unlock()
	return c.inner.RoundTrip(req)
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = map[string]int{}
}

// layerOf is a test layer with real content and the right diffID.
type layerOf struct {
	data   []byte
	diffID v1.Hash
	mt     types.MediaType
}

var _ v1.Layer = (*layerOf)(nil)

func (l *layerOf) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(l.data))
	return h, err
}
func (l *layerOf) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *layerOf) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.data)), nil
}
func (l *layerOf) Uncompressed() (io.ReadCloser, error) { panic("not used") }
func (l *layerOf) Size() (int64, error)                 { return int64(len(l.data)), nil }
func (l *layerOf) MediaType() (types.MediaType, error)  { return l.mt, nil }

func tarOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newLayer makes a layer of files, compressed as mt says.
func newLayer(t testing.TB, mt types.MediaType, files map[string]string) *layerOf {
	t.Helper()
	raw := tarOf(t, files)
	sum := sha256.Sum256(raw)
	diffID, _ := v1.NewHash(digest.NewDigestFromBytes(digest.SHA256, sum[:]).String())
	var buf bytes.Buffer
	switch {
	case strings.HasSuffix(string(mt), "gzip"):
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
	case strings.HasSuffix(string(mt), "zstd"):
		zw, _ := zstd.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
	default:
		buf.Write(raw)
	}
	return &layerOf{data: buf.Bytes(), diffID: diffID, mt: mt}
}

// ociImage makes an OCI image of gzip layers, one per seed.
func ociImage(t testing.TB, seeds ...string) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, s := range seeds {
		var err error
		img, err = mutate.AppendLayers(img, newLayer(t, types.OCILayer, map[string]string{"file-" + s: "content of " + s}))
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// write pushes a ggcr image or index to ref with ggcr itself, as the
// fixture of a test; auth is the registry's credentials, if any.
func write(t testing.TB, ref string, v remote.Taggable, reg *registrytest.Registry) digest.Digest {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{}
	if reg != nil && reg.User != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: reg.User, Password: reg.Password}))
	}
	switch x := v.(type) {
	case v1.Image:
		err = remote.Write(r, x, opts...)
	case v1.ImageIndex:
		err = remote.WriteIndex(r, x, opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	raw, err := v.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.FromBytes(raw)
}

func manifestDigest(t testing.TB, img v1.Image) digest.Digest {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.FromBytes(raw)
}

// checkPulled checks res against the image that was pushed, and that
// every layer blob is in the store with the right content.
func checkPulled(t testing.TB, store *cache.Store, res *PullResult, want v1.Image) {
	t.Helper()
	if got := manifestDigest(t, want); res.Digest != got {
		t.Errorf("digest %s, want %s", res.Digest, got)
	}
	layers, err := want.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Image.Layers) != len(layers) {
		t.Fatalf("%d layers, want %d", len(res.Image.Layers), len(layers))
	}
	for i, l := range layers {
		d, _ := l.Digest()
		id, _ := l.DiffID()
		got := res.Image.Layers[i]
		if got.Digest.String() != d.String() || got.DiffID.String() != id.String() {
			t.Errorf("layer %d: %s (diffID %s), want %s (%s)", i, got.Digest, got.DiffID, d, id)
		}
		rc, _, err := store.OpenBlob(got.Digest)
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("layer %d: %v", i, err)
		}
		rc.Close()
	}
}

func parsePlatform(s string) (ocispec.Platform, error) { return image.ParsePlatform(s) }

func mustDigest(s string) digest.Digest { return digest.Digest(s) }

type (
	cacheStore = cache.Store
	digestT    = digest.Digest
)

func readAll(rc io.ReadCloser) ([]byte, error) {
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustRepo(t testing.TB, s string) name.Repository {
	t.Helper()
	r, err := parseRepository(s, makeOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// corrupt flips the bytes of a stored blob, keeping its size.
func corrupt(t testing.TB, store *cache.Store, d digest.Digest) {
	t.Helper()
	p := store.BlobPath(d)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
