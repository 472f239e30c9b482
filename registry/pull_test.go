package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry/registrytest"
)

func TestPullByTagAndDigest(t *testing.T) {
	reg := registrytest.Start(t)
	img := ociImage(t, "a", "b", "c")
	d := write(t, reg.Ref("app:1"), img, nil)
	ctx := context.Background()

	store := openStore(t)
	res, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, img)
	if res.Ref != reg.Ref("app:1") || res.RefDigest != d || res.Warning != "" {
		t.Errorf("ref %s, ref digest %s, warning %q", res.Ref, res.RefDigest, res.Warning)
	}

	store2 := openStore(t)
	res, err = Pull(ctx, reg.Ref("app@"+d.String()), store2, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store2, res, img)
	if res.Ref != reg.Ref("app@"+d.String()) {
		t.Errorf("ref %s", res.Ref)
	}
}

func TestPullIndex(t *testing.T) {
	reg := registrytest.Start(t)
	amd, arm := ociImage(t, "amd64"), ociImage(t, "arm64")
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		// An attestation, as BuildKit adds them.
		mutate.IndexAddendum{Add: ociImage(t, "attestation"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
	)
	idxDigest := write(t, reg.Ref("multi:1"), idx, nil)
	ctx := context.Background()

	for _, tc := range []struct {
		platform string
		want     v1.Image
	}{
		{"linux/amd64", amd},
		{"linux/arm64", arm}, // no variant: any
		{"linux/arm64/v8", arm},
	} {
		p, _ := parsePlatform(tc.platform)
		store := openStore(t)
		res, err := Pull(ctx, reg.Ref("multi:1"), store, PullMissing, WithPlatform(p))
		if err != nil {
			t.Fatalf("%s: %v", tc.platform, err)
		}
		checkPulled(t, store, res, tc.want)
		if res.RefDigest != idxDigest {
			t.Errorf("%s: ref digest %s, want the index %s", tc.platform, res.RefDigest, idxDigest)
		}
	}

	p, _ := parsePlatform("linux/s390x")
	_, err := Pull(ctx, reg.Ref("multi:1"), openStore(t), PullMissing, WithPlatform(p))
	want := fmt.Sprintf("pull %s: no image for platform linux/s390x (the index has linux/amd64, linux/arm64/v8)", reg.Ref("multi:1"))
	if err == nil || err.Error() != want || !errors.Is(err, ErrNoPlatform) {
		t.Errorf("got %v, want %s", err, want)
	}
}

// attestation is an attestation manifest for the image of digest
// subject, as BuildKit adds one to an index: an in-toto layer, which
// nothing can unpack, so that picking it by mistake fails the pull.
func attestation(t *testing.T, subject digest.Digest) mutate.IndexAddendum {
	t.Helper()
	img, err := mutate.AppendLayers(ociImage(t), newLayer(t, "application/vnd.in-toto+json", map[string]string{"statement": "{}"}))
	if err != nil {
		t.Fatal(err)
	}
	return mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{image.AnnotationReferenceType: image.AttestationManifest, "vnd.docker.reference.digest": subject.String()},
	}}
}

// BuildKit lists an attestation manifest beside each image of an index:
// a pull skips them, for any platform, and an error does not list them.
func TestPullSkipsAttestations(t *testing.T) {
	reg := registrytest.Start(t)
	amd, arm := ociImage(t, "amd64"), ociImage(t, "arm64")
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		attestation(t, manifestDigest(t, arm)), // first, to be skipped rather than ignored by luck
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		attestation(t, manifestDigest(t, amd)),
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	write(t, reg.Ref("attested:1"), idx, nil)
	ctx := context.Background()
	for platform, want := range map[string]v1.Image{"linux/amd64": amd, "linux/arm64/v8": arm} {
		p, _ := parsePlatform(platform)
		store := openStore(t)
		res, err := Pull(ctx, reg.Ref("attested:1"), store, PullMissing, WithPlatform(p))
		if err != nil {
			t.Fatalf("%s: %v", platform, err)
		}
		checkPulled(t, store, res, want)
	}
	for _, platform := range []string{"unknown/unknown", "linux/s390x"} {
		p, _ := parsePlatform(platform)
		_, err := Pull(ctx, reg.Ref("attested:1"), openStore(t), PullMissing, WithPlatform(p))
		want := fmt.Sprintf("pull %s: no image for platform %s (the index has linux/amd64, linux/arm64/v8)", reg.Ref("attested:1"), platform)
		if err == nil || err.Error() != want || !errors.Is(err, ErrNoPlatform) || !errors.Is(err, image.ErrNoPlatform) {
			t.Errorf("got %v, want %s", err, want)
		}
	}
	// A single-platform build: one image without a platform, and its
	// attestation. The image is taken as it is.
	lone := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd},
		attestation(t, manifestDigest(t, amd)),
	)
	write(t, reg.Ref("attested:lone"), lone, nil)
	store := openStore(t)
	res, err := Pull(ctx, reg.Ref("attested:lone"), store, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, amd)
}

func TestPullSingleManifestWrongPlatform(t *testing.T) {
	reg := registrytest.Start(t)
	img, err := mutate.ConfigFile(ociImage(t), &v1.ConfigFile{OS: "linux", Architecture: "riscv64", RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, newLayer(t, types.OCILayer, map[string]string{"x": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	write(t, reg.Ref("riscv:1"), img, nil)
	p, _ := parsePlatform("linux/amd64")
	_, err = Pull(context.Background(), reg.Ref("riscv:1"), openStore(t), PullMissing, WithPlatform(p))
	want := fmt.Sprintf("pull %s: no image for platform linux/amd64 (the image is linux/riscv64)", reg.Ref("riscv:1"))
	if err == nil || err.Error() != want || !errors.Is(err, ErrNoPlatform) {
		t.Errorf("got %v, want %s", err, want)
	}
	// FROM takes it all the same, as BuildKit does, and warns.
	res, err := Pull(context.Background(), reg.Ref("riscv:1"), openStore(t), PullMissing, WithPlatform(p), WithAnyLonePlatform())
	if err != nil || res.Image.Config.Architecture != "riscv64" {
		t.Errorf("WithAnyLonePlatform: %v", err)
	}
}

func TestPullDockerSchema2Compressions(t *testing.T) {
	reg := registrytest.Start(t)
	img, err := mutate.AppendLayers(empty.Image, // Docker schema 2
		newLayer(t, types.DockerLayer, map[string]string{"gz": "gzip"}),
		newLayer(t, types.DockerUncompressedLayer, map[string]string{"plain": "uncompressed"}),
		newLayer(t, "application/vnd.docker.image.rootfs.diff.tar.zstd", map[string]string{"zst": "zstd"}),
		newLayer(t, types.OCILayerZStd, map[string]string{"zst2": "zstd, OCI"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.DockerManifestSchema2 {
		t.Fatalf("fixture is %s", mt)
	}
	write(t, reg.Ref("docker:1"), img, nil)
	store := openStore(t)
	res, err := Pull(context.Background(), reg.Ref("docker:1"), store, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, img)
	want := []string{ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerZstd, ocispec.MediaTypeImageLayerZstd}
	for i, l := range res.Image.Layers {
		if l.MediaType != want[i] {
			t.Errorf("layer %d: %s, want %s", i, l.MediaType, want[i])
		}
	}
}

func TestPullSecondTimeDownloadsNothing(t *testing.T) {
	reg := registrytest.Start(t)
	img := ociImage(t, "a", "b")
	write(t, reg.Ref("app:1"), img, nil)
	store := openStore(t)
	c := newCounter()
	var events []Progress
	progress := WithProgress(func(p Progress) { events = append(events, p) })
	if _, err := Pull(context.Background(), reg.Ref("app:1"), store, PullMissing, WithTransport(c), progress); err != nil {
		t.Fatal(err)
	}
	if n := c.get("GET blob"); n != 3 { // config and two layers
		t.Errorf("first pull: %d blob GETs, want 3", n)
	}
	c.reset()
	events = nil
	res, err := Pull(context.Background(), reg.Ref("app:1"), store, PullMissing, WithTransport(c), progress)
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, img)
	// One request: the HEAD, with no ping before it (see headTag).
	if c.get("HEAD manifest") != 1 || c.get("total") != 1 {
		t.Errorf("second pull made requests %v, want one manifest HEAD", c.n)
	}
	skipped := 0
	for _, e := range events {
		if e.Skipped {
			skipped++
		}
	}
	if skipped != 2 {
		t.Errorf("second pull: %d skipped events, want 2: %+v", skipped, events)
	}
}

func TestPullErrors(t *testing.T) {
	reg := registrytest.Start(t)
	write(t, reg.Ref("app:1"), ociImage(t, "a"), nil)
	ctx := context.Background()

	_, err := Pull(ctx, reg.Ref("app:nope"), openStore(t), PullMissing)
	if want := "pull " + reg.Ref("app:nope") + ": tag not found"; err == nil || err.Error() != want || !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want %s", err, want)
	}
	// distribution answers MANIFEST_UNKNOWN, not NAME_UNKNOWN.
	_, err = Pull(ctx, reg.Ref("nothing:1"), openStore(t), PullMissing)
	if want := "pull " + reg.Ref("nothing:1") + ": tag not found"; err == nil || err.Error() != want || !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want %s", err, want)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	_, err = Pull(ctx, closed+"/app:1", openStore(t), PullMissing)
	want := fmt.Sprintf("pull %s/app:1: cannot reach registry %s: connection refused", closed, closed)
	if err == nil || err.Error() != want || !errors.Is(err, ErrUnreachable) {
		t.Errorf("got %v, want %s", err, want)
	}

	_, err = Pull(ctx, "Bad:ref", openStore(t), PullMissing)
	if err == nil || !strings.HasPrefix(err.Error(), `pull Bad:ref: invalid image reference "Bad:ref"`) {
		t.Errorf("got %v", err)
	}
}

// A blob whose bytes do not match its digest is refused, and leaves
// nothing in the store.
func TestPullVerifiesBlobs(t *testing.T) {
	reg := registrytest.Start(t)
	img := ociImage(t, "a")
	write(t, reg.Ref("app:1"), img, nil)
	layers, _ := img.Layers()
	bad, _ := layers[0].Digest()
	// Overwrite the layer's data in the registry's storage.
	data := filepath.Join(reg.Dir, "docker/registry/v2/blobs/sha256", bad.Hex[:2], bad.Hex, "data")
	fi, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, make([]byte, fi.Size()), 0o644); err != nil {
		t.Fatal(err)
	}
	store := openStore(t)
	_, err = Pull(context.Background(), reg.Ref("app:1"), store, PullMissing)
	if err == nil || !strings.Contains(err.Error(), "layer "+bad.String()) || !errors.Is(err, cache.ErrCorrupt) {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
	if _, err := os.Stat(store.BlobPath(mustDigest(bad.String()))); !os.IsNotExist(err) {
		t.Errorf("damaged blob stored: %v", err)
	}
}

// A pull interrupted in the middle of a blob leaves nothing half-written.
func TestPullInterrupted(t *testing.T) {
	reg := registrytest.Start(t)
	big := newLayer(t, types.OCIUncompressedLayer, map[string]string{"big": strings.Repeat("x", 8<<20)})
	img, err := mutate.AppendLayers(ociImage(t), big)
	if err != nil {
		t.Fatal(err)
	}
	write(t, reg.Ref("big:1"), img, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := openStore(t)
	_, err = Pull(ctx, reg.Ref("big:1"), store, PullMissing, WithProgress(func(p Progress) {
		if p.Done > 2<<20 {
			cancel()
		}
	}))
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want canceled", err)
	}
	t.Log(err)
	entries, err := os.ReadDir(filepath.Dir(store.BlobPath(mustDigest(big.diffID.String()))))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("blob left: %s", e.Name())
	}
}

// The second pull of a tag asks the registry with one HEAD, where the
// first was answered with no credentials; when the tag has moved since,
// the pull resolves it the usual way and gets the new image.
func TestPullTagMovedAfterDirectHead(t *testing.T) {
	reg := registrytest.Start(t)
	first, second := ociImage(t, "a"), ociImage(t, "b")
	write(t, reg.Ref("app:1"), first, nil)
	store := openStore(t)
	ctx := context.Background()
	if _, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing); err != nil {
		t.Fatal(err)
	}
	if st := loadRefState(store, reg.Ref("app:1"), image.FormatPlatform(image.HostPlatform())); st == nil || st.Endpoint != "http://"+reg.Host {
		t.Fatalf("state after the first pull: %+v, want endpoint http://%s", st, reg.Host)
	}
	d := write(t, reg.Ref("app:1"), second, nil)
	res, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, second)
	if res.RefDigest != d {
		t.Errorf("pulled %s, want the moved tag's %s", res.RefDigest, d)
	}
}

// A registry that asks for credentials gets no direct HEAD: the state
// keeps no endpoint, and every pull pings and authenticates as ggcr does.
func TestPullWithCredentialsKeepsNoEndpoint(t *testing.T) {
	isolateCredentials(t)
	reg := registrytest.Start(t, registrytest.WithAuth("alice", "s3cret"))
	write(t, reg.Ref("app:1"), ociImage(t, "a"), reg)
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	store := openStore(t)
	c := newCounter()
	for i := range 2 {
		c.reset()
		if _, err := Pull(context.Background(), reg.Ref("app:1"), store, PullMissing, WithTransport(c)); err != nil {
			t.Fatal(err)
		}
		if c.get("GET ping") == 0 {
			t.Errorf("pull %d: requests %v, want a ping", i+1, c.n)
		}
	}
	if st := loadRefState(store, reg.Ref("app:1"), image.FormatPlatform(image.HostPlatform())); st == nil || st.Endpoint != "" {
		t.Errorf("state: %+v, want no endpoint", st)
	}
}
