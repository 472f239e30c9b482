package build

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/transport"
)

// reproDockerfile touches files at build time, in a dir it changes
// (/app), in a new dir and in the working dir WORKDIR makes.
const reproDockerfile = busyboxPrelude + `COPY app /app/
RUN echo built > /app/out && mkdir -p /data && touch /data/stamp
WORKDIR /work
ENV MODE=repro
RUN rm /bin/ls && echo "$MODE" > mode.txt
`

var reproEpoch = time.Unix(1700000000, 0).UTC()

func withEpoch(t time.Time) func(*Options) {
	return func(o *Options) { o.SourceDateEpoch = &t }
}

// at makes the build see another clock: the steps that run get that time
// in their records.
func at(t time.Time) func(*Options) {
	return func(o *Options) { o.Now = func() time.Time { return t } }
}

func reproContext(t *testing.T, mtime time.Time) string {
	t.Helper()
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": reproDockerfile,
		"app/a.txt":  "a\n",
		"app/sub/b":  "b\n",
	}))
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Two builds from different folders, with different file times, separate
// caches and clocks, give the same image under a source date epoch; so
// does a warm rebuild. Without one, the same two builds differ.
func TestSourceDateEpochGivesTheSameImage(t *testing.T) {
	dir1 := reproContext(t, time.Now().Add(-time.Hour))
	dir2 := reproContext(t, time.Now().Add(-48*time.Hour))
	cache1, cache2 := t.TempDir(), t.TempDir()
	later := time.Now().Add(time.Hour)

	out1, res1 := testBuild(t, dir1, cache1, withEpoch(reproEpoch))
	_, res2 := testBuild(t, dir2, cache2, withEpoch(reproEpoch), at(later))
	_, warm := testBuild(t, dir1, cache1, withEpoch(reproEpoch), at(later))
	if got := cachedSteps(warm); got != "CCCCCCCC" {
		t.Errorf("warm build: steps %s, want all cached", got)
	}
	if res1.ImageDigest != res2.ImageDigest || res1.ImageDigest != warm.ImageDigest {
		t.Fatalf("digests differ: %s, other folder %s, warm %s", res1.ImageDigest, res2.ImageDigest, warm.ImageDigest)
	}

	img, layers := layerHeaders(t, out1)
	if img.Config.Created == nil || !img.Config.Created.Equal(reproEpoch) {
		t.Errorf("config created %v, want %v", img.Config.Created, reproEpoch)
	}
	for _, h := range img.Config.History {
		if h.Created == nil || !h.Created.Equal(reproEpoch) {
			t.Errorf("history %q created %v, want %v", h.CreatedBy, h.Created, reproEpoch)
		}
	}
	for i, hdrs := range layers {
		for _, h := range hdrs {
			if h.ModTime.After(reproEpoch) {
				t.Errorf("layer %d: %s has mtime %v, after the epoch", i, h.Name, h.ModTime)
			}
		}
	}
	if h := header(layers[2], "app/"); h == nil || !h.ModTime.Equal(reproEpoch) {
		t.Errorf("the RUN layer's /app entry: %+v, want it clamped to the epoch", h)
	}

	_, plain1 := testBuild(t, dir1, t.TempDir())
	_, plain2 := testBuild(t, dir2, t.TempDir(), at(later))
	if plain1.ImageDigest == plain2.ImageDigest {
		t.Error("without an epoch, builds at other times from other files gave the same image; the test shows nothing")
	}
}

// The epoch keys the steps that make layers: the same build with another
// epoch runs them again.
func TestSourceDateEpochKeysLayerSteps(t *testing.T) {
	dir := reproContext(t, time.Now())
	cacheDir := t.TempDir()
	_, a := testBuild(t, dir, cacheDir, withEpoch(reproEpoch))
	_, b := testBuild(t, dir, cacheDir, withEpoch(reproEpoch.Add(time.Hour)))
	if got := cachedSteps(b); got != "CRRRRRRR" {
		t.Errorf("other epoch: steps %s, want the layer steps run again", got)
	}
	if a.ImageDigest == b.ImageDigest {
		t.Error("two epochs gave one image")
	}
}

// The build arg and a global ARG default set the epoch as the option does.
func TestSourceDateEpochBuildArg(t *testing.T) {
	dir := reproContext(t, time.Now())
	_, want := testBuild(t, dir, t.TempDir(), withEpoch(reproEpoch))
	_, got := testBuild(t, dir, t.TempDir(), func(o *Options) {
		o.BuildArgs = map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}
	})
	if got.ImageDigest != want.ImageDigest {
		t.Errorf("--build-arg SOURCE_DATE_EPOCH gave %s, the option %s", got.ImageDigest, want.ImageDigest)
	}
	global := contextDir(t, map[string]string{"Dockerfile": "ARG SOURCE_DATE_EPOCH=1700000000\n" + reproDockerfile, "app/a.txt": "a\n"})
	out, _ := testBuild(t, withBusybox(t, global), t.TempDir())
	if img, _ := layerHeaders(t, out); img.Config.Created == nil || !img.Config.Created.Equal(reproEpoch) {
		t.Errorf("global ARG: created %v, want %v", img.Config.Created, reproEpoch)
	}
	_, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) {
		o.BuildArgs = map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}
	})
	if err == nil || err.Error() != `invalid SOURCE_DATE_EPOCH "yesterday": want whole seconds since 1970` {
		t.Errorf("err = %v", err)
	}
}

func withCompression(c layer.Algorithm, level int) func(*Options) {
	return func(o *Options) { o.Compression = layer.Compression{Algorithm: c, Level: level} }
}

// Each compression gives its media types; a build that finds its steps
// cached in another compression converts their layers, and gives the very
// image a cold build in that compression gives.
func TestCompression(t *testing.T) {
	dir := reproContext(t, time.Now())
	warm := t.TempDir()
	cases := []struct {
		c         layer.Algorithm
		level     int
		mediaType string
	}{
		{layer.Zstd, 0, "application/vnd.oci.image.layer.v1.tar+zstd"},
		{layer.Gzip, 0, "application/vnd.oci.image.layer.v1.tar+gzip"},
		{layer.Gzip, 1, "application/vnd.oci.image.layer.v1.tar+gzip"},
		{layer.Uncompressed, 0, "application/vnd.oci.image.layer.v1.tar"},
		{layer.Zstd, 19, "application/vnd.oci.image.layer.v1.tar+zstd"},
	}
	digests := map[string]string{}
	for i, tc := range cases {
		opts := []func(*Options){withEpoch(reproEpoch), withCompression(tc.c, tc.level)}
		outWarm, resWarm := testBuild(t, dir, warm, opts...)
		_, resCold := testBuild(t, dir, t.TempDir(), opts...)
		name := fmt.Sprintf("%s/%d", tc.c, tc.level)
		if i > 0 && cachedSteps(resWarm) != "CCCCCCCC" {
			t.Errorf("%s: steps %s, want all cached", name, cachedSteps(resWarm))
		}
		if resWarm.ImageDigest != resCold.ImageDigest {
			t.Errorf("%s: converted image %s, cold build %s", name, resWarm.ImageDigest, resCold.ImageDigest)
		}
		if prev, ok := digests[resWarm.ImageDigest.String()]; ok {
			t.Errorf("%s gives the same image as %s", name, prev)
		}
		digests[resWarm.ImageDigest.String()] = name
		img, _ := layerHeaders(t, outWarm)
		var reported []layer.Layer
		for _, s := range resWarm.Steps {
			if s.Layer != nil {
				l := *s.Layer
				l.Level = 0 // not in the image: a manifest does not say
				reported = append(reported, l)
			}
		}
		if !slices.Equal(reported, img.Layers) {
			t.Errorf("%s: the steps report layers %v, the image has %v", name, reported, img.Layers)
		}
		for j, l := range img.Layers {
			if l.MediaType != tc.mediaType {
				t.Errorf("%s: layer %d has media type %s", name, j, l.MediaType)
			}
		}
	}
	// Going back to a compression converted before reuses the conversion.
	store, err := cache.Open(context.Background(), warm)
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		recs, err := store.Steps()
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	before := count()
	store.Close()
	testBuild(t, dir, warm, withEpoch(reproEpoch), withCompression(layer.Uncompressed, 0))
	store, _ = cache.Open(context.Background(), warm)
	defer store.Close()
	if after := count(); after != before {
		t.Errorf("the cache went from %d to %d entries; the conversion was not reused", before, after)
	}
}

// The layers of a base image are written as the base has them, whatever
// the compression asked for; so are its history times under an epoch.
func TestBaseLayersAreNotRewritten(t *testing.T) {
	baseDir := reproContext(t, time.Now())
	base, _ := testBuild(t, baseDir, t.TempDir(), at(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)))
	baseImg, _ := layerHeaders(t, base)

	dir := contextDir(t, map[string]string{"Dockerfile": "FROM oci-archive:" + base + "\nRUN echo more > /more\n"})
	out, _ := testBuild(t, dir, t.TempDir(), withCompression(layer.Zstd, 0), withEpoch(reproEpoch))
	img, _ := layerHeaders(t, out)
	if len(img.Layers) != len(baseImg.Layers)+1 {
		t.Fatalf("%d layers, want %d", len(img.Layers), len(baseImg.Layers)+1)
	}
	for i, l := range baseImg.Layers {
		if img.Layers[i] != l {
			t.Errorf("base layer %d: %+v, want %+v", i, img.Layers[i], l)
		}
	}
	if mt := img.Layers[len(baseImg.Layers)].MediaType; mt != "application/vnd.oci.image.layer.v1.tar+zstd" {
		t.Errorf("new layer: media type %s", mt)
	}
	for i, h := range img.Config.History {
		want := reproEpoch
		if i < len(baseImg.Config.History) {
			want = *baseImg.Config.History[i].Created
		}
		if h.Created == nil || !h.Created.Equal(want) {
			t.Errorf("history %d %q: created %v, want %v", i, h.CreatedBy, h.Created, want)
		}
	}
}

// layerHeaders reads an OCI archive: its image, and the tar headers of
// each layer.
func layerHeaders(t *testing.T, archive string) (*image.Image, [][]*tar.Header) {
	t.Helper()
	store, err := cache.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	img, err := transport.Load(context.Background(), transport.Ref{Transport: transport.OCIArchive, Path: archive}, store)
	if err != nil {
		t.Fatal(err)
	}
	var layers [][]*tar.Header
	for _, l := range img.Layers {
		rc, _, err := store.OpenBlob(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = rc
		switch layer.AlgorithmOf(l.MediaType) {
		case layer.Gzip:
			if r, err = gzip.NewReader(rc); err != nil {
				t.Fatal(err)
			}
		case layer.Zstd:
			zr, err := zstd.NewReader(rc)
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			r = zr
		}
		var hdrs []*tar.Header
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			hdrs = append(hdrs, h)
		}
		rc.Close()
		layers = append(layers, hdrs)
	}
	return img, layers
}

func header(hdrs []*tar.Header, name string) *tar.Header {
	for _, h := range hdrs {
		if h.Name == name {
			return h
		}
	}
	return nil
}
