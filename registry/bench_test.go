package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// benchImage pushes a 100 MB image (four 25 MB gzip layers of random
// bytes, stored rather than compressed) to a fresh docker-registry.
func benchImage(b *testing.B) (*registrytest.Registry, string) {
	b.Helper()
	reg := registrytest.Start(b)
	rnd := rand.New(rand.NewSource(1))
	img := ociImage(b)
	for range 4 {
		raw := make([]byte, 25<<20)
		rnd.Read(raw)
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
		zw.Write(raw)
		zw.Close()
		sum := sha256.Sum256(raw)
		diffID, _ := v1.NewHash(digest.NewDigestFromBytes(digest.SHA256, sum[:]).String())
		var err error
		if img, err = mutate.AppendLayers(img, &layerOf{data: buf.Bytes(), diffID: diffID, mt: types.OCILayer}); err != nil {
			b.Fatal(err)
		}
	}
	write(b, reg.Ref("big:1"), img, nil)
	return reg, reg.Ref("big:1")
}

// BenchmarkPull is a cold pull of a 100 MB image from a loopback
// registry into an empty store.
func BenchmarkPull(b *testing.B) {
	_, ref := benchImage(b)
	b.SetBytes(100 << 20)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		store, err := cache.Open(context.Background(), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := Pull(context.Background(), ref, store, PullMissing); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		store.Close()
		b.StartTimer()
	}
}

// BenchmarkPullSkopeo is the same pull by skopeo, into an OCI layout, to
// compare with.
func BenchmarkPullSkopeo(b *testing.B) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		b.Fatal("skopeo not found: apt-get install skopeo")
	}
	_, ref := benchImage(b)
	b.SetBytes(100 << 20)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "oci")
		b.StartTimer()
		cmd := exec.Command(skopeo, "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "oci:"+dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
