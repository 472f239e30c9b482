package layerdiff

import (
	"archive/tar"
	"bytes"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// archiveFile writes data to a file, compressed with compress (nil: as it
// is).
func archiveFile(t *testing.T, name string, data []byte, compress func(io.Writer) (io.WriteCloser, error)) string {
	t.Helper()
	var buf bytes.Buffer
	w := io.WriteCloser(nopWriteCloser{&buf})
	if compress != nil {
		var err error
		if w, err = compress(&buf); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func oneFileTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpenArchive(t *testing.T) {
	tarball := oneFileTar(t)
	gz := func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil }
	zst := func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) }
	xzw := func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) }
	for _, tc := range []struct {
		name     string
		data     []byte
		compress func(io.Writer) (io.WriteCloser, error)
		archive  bool
	}{
		{"plain.tar", tarball, nil, true},
		{"a.tar.gz", tarball, gz, true},
		{"a.tar.zst", tarball, zst, true},
		{"a.tar.xz", tarball, xzw, true},
		{"text", []byte("not an archive, not at all, no\n"), nil, false},
		{"text.gz", []byte("not an archive, not at all, no\n"), gz, false},
		{"text.zst", []byte("not an archive, not at all, no\n"), zst, false},
		{"empty", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, closer, ok, err := OpenArchive(t.Context(), archiveFile(t, tc.name, tc.data, tc.compress))
			if err != nil || ok != tc.archive {
				t.Fatalf("ok = %v, err = %v; want ok = %v", ok, err, tc.archive)
			}
			if !ok {
				return
			}
			defer closer.Close()
			h, err := tr.Next()
			if err != nil || h.Name != "f" {
				t.Fatalf("first entry %v, %v", h, err)
			}
			if data, err := io.ReadAll(tr); err != nil || string(data) != "hi" {
				t.Fatalf("read %q, %v", data, err)
			}
		})
	}
}

// A zstd decoder runs goroutines unless told not to: OpenArchive must not
// leave any behind, archive or not.
func TestOpenArchiveLeavesNoGoroutine(t *testing.T) {
	zst := func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) }
	// Big enough that reading stops before the end: a decoder that meets
	// the end of its stream stops its goroutines by itself.
	big := make([]byte, 16<<20)
	rand.New(rand.NewSource(1)).Read(big)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: int64(len(big)), Typeflag: tar.TypeReg})
	tw.Write(big)
	tw.Close()
	archive := archiveFile(t, "a.tar.zst", buf.Bytes(), zst)
	notArchive := archiveFile(t, "big.zst", big, zst)
	before := runtime.NumGoroutine()
	for range 5 {
		tr, closer, ok, err := OpenArchive(t.Context(), archive)
		if !ok || err != nil {
			t.Fatalf("ok = %v, err = %v", ok, err)
		}
		tr.Next() // and no further
		closer.Close()
		if _, _, ok, err := OpenArchive(t.Context(), notArchive); ok || err != nil {
			t.Fatalf("not an archive: ok = %v, err = %v", ok, err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after", before, n)
	}
}

// A tar may start with PAX records (a long name, xattrs), a GNU long
// name or a global header, which put its first file's header past any fixed sniff: it is
// an archive all the same, as BuildKit reads a first header from the
// whole stream.
func TestOpenArchivePAXFirst(t *testing.T) {
	long := strings.Repeat("d/", 700) + "f"
	for name, hdrs := range map[string][]*tar.Header{
		"name.tar":      {{Name: strings.Repeat("n", 150), Mode: 0o644, Typeflag: tar.TypeReg}},
		"gnu.tar":       {{Name: strings.Repeat("g", 150), Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatGNU}},
		"xattr.tar":     {{Name: "f", Mode: 0o644, Typeflag: tar.TypeReg, PAXRecords: map[string]string{"SCHILY.xattr.user.a": "b"}}},
		"long-name.tar": {{Name: long, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX}},
		"xattrs.tar": {{Name: "f", Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"SCHILY.xattr.user.big": strings.Repeat("x", 2000)}}},
		"global.tar": {
			{Name: "pax_global_header", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": strings.Repeat("c", 3000)}},
			{Name: "f", Mode: 0o644, Typeflag: tar.TypeReg},
		},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hdrs {
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
		}
		tw.Close()
		gz := func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil }
		for _, compress := range []func(io.Writer) (io.WriteCloser, error){nil, gz} {
			tr, closer, ok, err := OpenArchive(t.Context(), archiveFile(t, name, buf.Bytes(), compress))
			if err != nil || !ok {
				t.Fatalf("%s: ok = %v, err = %v", name, ok, err)
			}
			if _, err := tr.Next(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			closer.Close()
		}
	}
}
