package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/transport"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// archiveWithLayer writes an OCI archive whose one layer is the given tar
// entries.
func archiveWithLayer(t *testing.T, entries []*tar.Header) string {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	store, err := cache.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d := digest.FromBytes(gz.Bytes())
	if err := store.PutBlob(d, int64(gz.Len()), bytes.NewReader(gz.Bytes())); err != nil {
		t.Fatal(err)
	}
	img := &image.Image{Layers: []layer.Layer{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: int64(gz.Len()), DiffID: digest.FromBytes(raw.Bytes())}}}
	img.Config.OS, img.Config.Architecture = "linux", image.HostPlatform().Architecture
	p := filepath.Join(t.TempDir(), "base.tar")
	if _, err := transport.Save(context.Background(), transport.Ref{Transport: transport.OCIArchive, Path: p}, img, store); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHostileBaseLayer(t *testing.T) {
	testHostileBaseLayer(t)
}

// testHostileBaseLayer builds on base layers that try to write outside
// the build, with opts (a driver) if any.
func testHostileBaseLayer(t *testing.T, opts ...func(*Options)) {
	victim := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []*tar.Header
	}{
		{"dotdot", []*tar.Header{{Name: "../../../../../../../.." + victim + "/escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}}},
		{"symlink", []*tar.Header{
			{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: victim, Mode: 0o777},
			{Name: "evil/escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		}},
		{"hardlink", []*tar.Header{{Name: "link", Typeflag: tar.TypeLink, Linkname: "../../../../../../.." + victim + "/escaped"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := archiveWithLayer(t, tc.entries)
			dir := contextDir(t, map[string]string{"Dockerfile": "FROM oci-archive:" + base + "\nRUN [\"/x\"]\n"})
			tryBuild(t, dir, t.TempDir(), opts...)
			if entries, _ := os.ReadDir(victim); len(entries) != 0 {
				t.Fatalf("the layer wrote outside the build: %v", entries)
			}
		})
	}
}

func TestManyLayers(t *testing.T) {
	var df strings.Builder
	df.WriteString(busyboxPrelude)
	for i := 0; i < 160; i++ {
		fmt.Fprintf(&df, "RUN echo %d > /step-%03d\n", i, i)
	}
	df.WriteString("RUN ls / | grep -c step- > /count\n")
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df.String()}))
	out, res := testBuild(t, dir, t.TempDir())
	if n := len(res.Steps); n != 164 {
		t.Fatalf("%d steps", n)
	}
	if line := lineOf(t, out, "/count"); !strings.Contains(line, digest.FromString("160\n").Encoded()) {
		t.Errorf("/count: %s (the last step did not see 160 layers)", line)
	}
}

func TestFromErrors(t *testing.T) {
	for _, tc := range []struct{ df, want string }{
		{"FROM 127.0.0.1:1/nothing:1\n", "Dockerfile:1: pull 127.0.0.1:1/nothing:1: cannot reach registry 127.0.0.1:1: connection refused"},
		{"FROM oci-archive:/nonexistent.tar\n", "Dockerfile:1: load oci-archive:/nonexistent.tar: open /nonexistent.tar: no such file or directory"},
		{"\n\nFROM scratch\nBOGUS x\n", "Dockerfile:4: unknown instruction: BOGUS"},
		{"FROM scratch\nRUN [\"/nope\"]\n", `Dockerfile:2: [2/2] RUN ["/nope"]: exec /nope: stat /nope: no such file or directory`},
	} {
		dir := contextDir(t, map[string]string{"Dockerfile": tc.df})
		_, _, err := tryBuild(t, dir, t.TempDir())
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.df, err, tc.want)
		}
	}
}
