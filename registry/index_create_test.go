package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/registry/registrytest"
)

// platformOf is a random-layered image for os/arch, of media type mt.
func platformOf(t *testing.T, arch string, mt types.MediaType, seed string) v1.Image {
	t.Helper()
	img := ociImage(t, seed)
	img = mutate.MediaType(img, mt)
	if mt == types.DockerManifestSchema2 {
		img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// index create from two single-platform pushes: skopeo sees an index of
// both, with the digests pushed; across repositories of the registry the
// layers are mounted, not uploaded; within one repository nothing but
// the index is.
func TestCreateIndex(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	amd := write(t, reg.Ref("app-amd64:1"), platformOf(t, "amd64", types.OCIManifestSchema1, "a"), nil)
	arm := write(t, reg.Ref("app-arm64:1"), platformOf(t, "arm64", types.OCIManifestSchema1, "b"), nil)
	c := newCounter()
	d, err := CreateIndex(ctx, reg.Ref("app:1"), []IndexSource{{Ref: reg.Ref("app-amd64:1"), Label: "amd64"}, {Ref: reg.Ref("app-arm64:1"), Label: "arm64"}}, WithTransport(c))
	if err != nil {
		t.Fatal(err)
	}
	if c.get("POST upload") == 0 || c.get("PATCH upload") != 0 || c.get("PUT upload") != 0 {
		t.Errorf("layers uploaded across repositories of one registry, not mounted: %v", c.n)
	}
	raw, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+reg.Ref("app:1")).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --raw: %v", err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil || idx.MediaType != ocispec.MediaTypeImageIndex || len(idx.Manifests) != 2 {
		t.Fatalf("skopeo reads %s (%v), want an OCI index of two", raw, err)
	}
	for i, want := range []struct{ arch, digest string }{{"amd64", amd.String()}, {"arm64", arm.String()}} {
		m := idx.Manifests[i]
		if m.Digest.String() != want.digest || m.Platform == nil || m.Platform.Architecture != want.arch {
			t.Errorf("manifest %d: %s %+v, want %s for %s", i, m.Digest, m.Platform, want.digest, want.arch)
		}
	}
	if got := digest.FromBytes(raw); d != got {
		t.Errorf("returned %s, skopeo reads %s", d, got)
	}

	// Within one repository: only the index is put.
	write(t, reg.Ref("app:amd64"), platformOf(t, "amd64", types.DockerManifestSchema2, "c"), nil)
	write(t, reg.Ref("app:arm64"), platformOf(t, "arm64", types.DockerManifestSchema2, "d"), nil)
	c.reset()
	if _, err := CreateIndex(ctx, reg.Ref("app:2"), []IndexSource{{Ref: reg.Ref("app:amd64")}, {Ref: reg.Ref("app:arm64")}}, WithTransport(c)); err != nil {
		t.Fatal(err)
	}
	if n := c.get("POST upload") + c.get("PATCH upload") + c.get("PUT upload"); n != 0 || c.get("PUT manifest") != 1 {
		t.Errorf("within one repository: %v, want one manifest put and no upload", c.n)
	}
	raw, err = exec.Command("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+reg.Ref("app:2")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ MediaType string }
	if err := json.Unmarshal(raw, &list); err != nil || list.MediaType != string(types.DockerManifestList) {
		t.Errorf("from Docker schema 2 images: %s, want a Docker manifest list", list.MediaType)
	}

	// Two images for one platform are refused.
	_, err = CreateIndex(ctx, reg.Ref("app:3"), []IndexSource{{Ref: reg.Ref("app:amd64"), Label: "one"}, {Ref: reg.Ref("app-amd64:1"), Label: "two"}})
	if err == nil || err.Error() != "index create: one and two both have an image for linux/amd64" {
		t.Errorf("err = %v", err)
	}
}

// A registry that refuses cross-repository mounts (it answers a mount
// with an upload session) gets the layers uploaded: the index is whole.
func TestCreateIndexMountRefused(t *testing.T) {
	reg := registrytest.Start(t)
	target, err := url.Parse("http://" + reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var refused atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if q := req.URL.Query(); req.Method == http.MethodPost && q.Get("mount") != "" {
			refused.Add(1)
			q.Del("mount")
			q.Del("from")
			req.URL.RawQuery = q.Encode()
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	amd := write(t, reg.Ref("a:1"), platformOf(t, "amd64", types.OCIManifestSchema1, "e"), nil)
	arm := write(t, reg.Ref("b:1"), platformOf(t, "arm64", types.OCIManifestSchema1, "f"), nil)
	c := newCounter()
	if _, err := CreateIndex(ctx, host+"/app:1", []IndexSource{{Ref: host + "/a:1"}, {Ref: host + "/b:1"}}, WithTransport(c)); err != nil {
		t.Fatal(err)
	}
	if refused.Load() == 0 || c.get("PUT upload")+c.get("PATCH upload") == 0 {
		t.Errorf("mounts refused %d times, then %v", refused.Load(), c.n)
	}
	for _, want := range []digest.Digest{amd, arm} {
		r, err := name.ParseReference(reg.Ref("app")+"@"+want.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := readWhole(r); err != nil {
			t.Errorf("image %s in the index's repository: %v", want, err)
		}
	}
}

// readWhole reads every layer of the image r names, each checked against
// its digest.
func readWhole(r name.Reference) error {
	img, err := ggcrremote.Image(r)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		want, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if got := digest.FromBytes(data); got.String() != want.String() {
			return fmt.Errorf("layer %s reads as %s", want, got)
		}
	}
	return nil
}
