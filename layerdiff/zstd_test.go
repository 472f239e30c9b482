package layerdiff

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/layer"
)

// A layer larger than a zstd piece is several frames, which the reference
// zstd tool (not the library that wrote them) reads back as the tar.
func TestZstdFramesReadByTheZstdTool(t *testing.T) {
	zstdTool, err := exec.LookPath("zstd")
	if err != nil {
		t.Fatal("the zstd tool is needed (apt-get install zstd; .ci/run installs it)")
	}
	big := make([]byte, 2*zstdBlock+12345)
	for i := range big {
		big[i] = byte(i * 13 % 241)
	}
	upper := tree(t, fstest.CreateFile("big", big, 0o644), fstest.CreateFile("small", []byte("x"), 0o644))
	wantTar := layerTar(t, upper, nil, WithSourceDateEpoch(epoch))
	var blob bytes.Buffer
	if _, err := WriteBlob(t.Context(), &blob, upper, nil, withCompression(layer.Zstd, 0), WithSourceDateEpoch(epoch)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "layer.zst")
	if err := os.WriteFile(file, blob.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zstdTool, "-d", "-c", file).Output()
	if err != nil {
		t.Fatalf("zstd -d: %v", err)
	}
	if !bytes.Equal(out, wantTar) {
		t.Error("zstd -d does not give the layer tar back")
	}
	list, err := exec.Command(zstdTool, "-l", file).Output()
	if err != nil {
		t.Fatalf("zstd -l: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(list)), "\n")
	if fields := strings.Fields(lines[len(lines)-1]); len(fields) == 0 || fields[0] != "3" {
		t.Errorf("want 3 frames:\n%s", list)
	}
}

type failingWriter struct{ left int }

var errFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, errFull
	}
	w.left -= len(p)
	return len(p), nil
}

// A write error while frames are in flight is the blob's error.
func TestZstdWriteError(t *testing.T) {
	big := make([]byte, 3*zstdBlock)
	for i := range big {
		big[i] = byte(i * 13 % 241)
	}
	upper := tree(t, fstest.CreateFile("big", big, 0o644))
	_, err := WriteBlob(t.Context(), &failingWriter{left: 1000}, upper, nil, withCompression(layer.Zstd, 0))
	if !errors.Is(err, errFull) {
		t.Fatalf("err = %v, want the writer's error", err)
	}
}

// Closing twice is harmless, and says the same twice.
func TestZstdCloseTwice(t *testing.T) {
	var buf bytes.Buffer
	z, err := newZstdWriter(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	z.Write([]byte("data"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if err := z.Close(); err != nil || buf.Len() != n {
		t.Errorf("second close: %v, %d bytes then %d", err, n, buf.Len())
	}

	z, err = newZstdWriter(&failingWriter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	z.Write([]byte("data"))
	if err := z.Close(); !errors.Is(err, errFull) {
		t.Fatalf("close: %v, want the writer's error", err)
	}
	if err := z.Close(); !errors.Is(err, errFull) {
		t.Errorf("second close: %v, want the writer's error again", err)
	}
}
