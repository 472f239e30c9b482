package layer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// checkedSource stands for a store's blob: it fails at its end when its
// content is damaged, and counts what was read of it.
type checkedSource struct {
	r       *bytes.Reader
	damaged bool
	read    int
}

var errDamaged = errors.New("damaged blob")

func (s *checkedSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.read += n
	if err == io.EOF && s.damaged {
		err = errDamaged
	}
	return n, err
}

// brokenGzip is a gzip stream that fails early: a whole member, then a
// member with a bad header, then much more.
func brokenGzip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	fmt.Fprintf(zw, "a whole first member\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	buf.Write([]byte{0x1f, 0x8b, 7, 0}) // compression method 7: none such
	buf.Write(bytes.Repeat([]byte("rest of the blob "), 1<<16))
	return buf.Bytes()
}

func TestDecompressSniffs(t *testing.T) {
	data := []byte("plain bytes")
	for _, tc := range []struct {
		name string
		blob []byte
	}{
		{"gzip", compressed(t, Gzip, data)},
		{"zstd", compressed(t, Zstd, data)},
		{"none", data},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decompress(t.Context(), bytes.NewReader(tc.blob), "")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			want := data
			if tc.blob == nil {
				want = nil
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("got %q, %v", got, err)
			}
		})
	}
}

// A decoder that fails early reads the source to its end, so that a
// damaged source says so; an intact one leaves the decoder's error.
func TestDecompressBlamesDamagedSource(t *testing.T) {
	blob := brokenGzip(t)
	for _, damaged := range []bool{false, true} {
		src := &checkedSource{r: bytes.NewReader(blob), damaged: damaged}
		r, err := Decompress(t.Context(), src, v1.MediaTypeImageLayerGzip)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, r)
		r.Close()
		if src.read != len(blob) {
			t.Errorf("damaged %v: read %d bytes of %d", damaged, src.read, len(blob))
		}
		if damaged && !errors.Is(err, errDamaged) {
			t.Errorf("damaged source: %v, want the source's error", err)
		}
		if !damaged && (err == nil || errors.Is(err, errDamaged)) {
			t.Errorf("intact source: %v, want the decoder's error", err)
		}
	}
}

// A blob whose damage no decoder sees (the bytes decode, but the blob
// fails at its end) fails with the blob's error, not with EOF.
func TestDecompressDamagedAtTheEnd(t *testing.T) {
	data := []byte("bytes that decode fine")
	for _, c := range []Algorithm{Gzip, Zstd, Uncompressed} {
		src := &checkedSource{r: bytes.NewReader(compressed(t, c, data)), damaged: true}
		r, err := Decompress(t.Context(), src, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(r); !errors.Is(err, errDamaged) {
			t.Errorf("%s: %v, want the source's error", c, err)
		}
		r.Close()
	}
}

// Once ctx is done, a failing decoder does not read the source to its
// end: it could be gigabytes.
func TestDecompressStopsOnCancel(t *testing.T) {
	blob := brokenGzip(t)
	src := &checkedSource{r: bytes.NewReader(blob), damaged: true}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r, err := Decompress(ctx, src, v1.MediaTypeImageLayerGzip)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	if err == nil || errors.Is(err, errDamaged) {
		t.Errorf("err = %v, want the decoder's", err)
	}
	if src.read == len(blob) {
		t.Error("the source was read to its end after the cancel")
	}
}

// compressed compresses data with algorithm c.
func compressed(t *testing.T, c Algorithm, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw io.WriteCloser = nopWriteCloser{&buf}
	switch c {
	case Gzip:
		zw = gzip.NewWriter(&buf)
	case Zstd:
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw = w
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
