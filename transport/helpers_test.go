package transport

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
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

// tarOf is a tar of regular files, in name order.
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

// putLayer stores a gzip layer of files in store.
func putLayer(t testing.TB, store *cache.Store, files map[string]string) layer.Layer {
	t.Helper()
	raw := tarOf(t, files)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(gz.Bytes())
	if err := store.PutBlob(d, int64(gz.Len()), bytes.NewReader(gz.Bytes())); err != nil {
		t.Fatal(err)
	}
	return layer.Layer{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: int64(gz.Len()), DiffID: digest.FromBytes(raw)}
}

// testImage is an image of the host's platform with one layer per file
// given, in store, and cmd as its Cmd.
func testImage(t testing.TB, store *cache.Store, cmd string, files ...string) *image.Image {
	t.Helper()
	img := &image.Image{}
	p := image.HostPlatform()
	img.Config.OS, img.Config.Architecture, img.Config.Variant = p.OS, p.Architecture, p.Variant
	img.Config.Config.Cmd = []string{cmd}
	for _, f := range files {
		img.Layers = append(img.Layers, putLayer(t, store, map[string]string{f: "content of " + f}))
		img.Config.History = append(img.Config.History, ocispec.History{CreatedBy: "COPY " + f + " /"})
	}
	return img
}

// layerFiles lists the files of a layer blob of store, with their
// content, reading it to the end so that the store checks its digest.
func layerFiles(t testing.TB, store *cache.Store, l layer.Layer) map[string]string {
	t.Helper()
	rc, _, err := store.OpenBlob(l.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if l.MediaType == ocispec.MediaTypeImageLayerGzip {
		zr, err := gzip.NewReader(rc)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	files := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = string(data)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatalf("layer %s: %v", l.Digest, err)
	}
	return files
}

// tarDir writes the files under dir into a tar at p, as an oci-archive
// holds an OCI layout.
func tarDir(t testing.TB, dir, p string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
