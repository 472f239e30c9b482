package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// An archive begun with the image's first layers, and finished with the
// image, is byte for byte the one WriteOCIArchive writes; the write
// progress counts the layers written ahead too.
func TestArchiveAheadWritesTheSameBytes(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	dir := t.TempDir()
	want := filepath.Join(dir, "want.tar")
	if _, err := WriteOCIArchive(context.Background(), want, "v1", img, store); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(dir, "got.tar")
	a := StartOCIArchive(context.Background(), got, img.Layers[:2], store)
	var last int64
	ctx := WithWriteProgress(context.Background(), func(n int64) { last = n })
	if _, err := a.Finish(ctx, img, "v1"); err != nil {
		t.Fatal(err)
	}
	a.Abort() // after Finish: nothing
	wantBytes, _ := os.ReadFile(want)
	gotBytes, err := os.ReadFile(got)
	if err != nil || !bytes.Equal(gotBytes, wantBytes) {
		t.Errorf("the archive written ahead differs from WriteOCIArchive's (%v)", err)
	}
	var total int64
	for _, l := range img.Layers {
		total += l.Size
	}
	if last != total {
		t.Errorf("progress ended at %d bytes, want %d", last, total)
	}
}

// Abort, or an image that does not begin with the layers written ahead,
// leaves the file at the path as it was, and no temp file beside it.
func TestArchiveAheadAbortLeavesTheFile(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	dir := t.TempDir()
	p := filepath.Join(dir, "out.tar")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	StartOCIArchive(context.Background(), p, img.Layers[:1], store).Abort()
	other := *img
	other.Layers = img.Layers[1:]
	_, err := StartOCIArchive(context.Background(), p, img.Layers[:1], store).Finish(context.Background(), &other, "")
	if !errors.Is(err, ErrNotAhead) {
		t.Errorf("Finish of another image: %v, want ErrNotAhead", err)
	}
	if data, err := os.ReadFile(p); err != nil || string(data) != "old" {
		t.Errorf("the file holds %q (%v), want the old one", data, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the dir, want the old one alone", len(entries))
	}
}

// The layers written ahead reach the file (and the disk starts on them)
// before Finish: they do not wait in the write buffer for the rest.
func TestArchiveAheadWritesTheFirstLayersOut(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	dir := t.TempDir()
	a := StartOCIArchive(context.Background(), filepath.Join(dir, "out.tar"), img.Layers[:2], store)
	defer a.Abort()
	want := img.Layers[0].Size + img.Layers[1].Size
	deadline := time.Now().Add(10 * time.Second)
	for {
		temps, _ := filepath.Glob(filepath.Join(dir, ".out.tar.tmp-*"))
		if len(temps) == 1 {
			if fi, err := os.Stat(temps[0]); err == nil && fi.Size() >= want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("temp files %q: the first layers' %d bytes are not in the file 10 s on", temps, want)
		}
		time.Sleep(time.Millisecond)
	}
}
