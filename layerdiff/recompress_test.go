package layerdiff

import (
	"bytes"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
)

// Converting a blob gives the very bytes writing the layer in the target
// compression gives, from every source compression.
func TestRecompressMatchesWriteBlob(t *testing.T) {
	upper := tree(t, append(writeCases[0].upper, writeCases[1].upper...)...)
	write := func(c Compression, level int) ([]byte, Blob) {
		var buf bytes.Buffer
		b, err := WriteBlob(t.Context(), &buf, upper, nil, WithCompression(c, level), WithSourceDateEpoch(epoch))
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), b
	}
	targets := []struct {
		c     Compression
		level int
	}{{Gzip, 0}, {Gzip, 9}, {Zstd, 0}, {Zstd, 19}, {None, 0}}
	for _, from := range []Compression{Gzip, Zstd, None} {
		src, srcBlob := write(from, 0)
		for _, to := range targets {
			want, wantBlob := write(to.c, to.level)
			var got bytes.Buffer
			b, err := Recompress(t.Context(), &got, bytes.NewReader(src), srcBlob.MediaType, srcBlob.DiffID, WithCompression(to.c, to.level))
			if err != nil {
				t.Fatalf("%s to %s/%d: %v", from, to.c, to.level, err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s to %s/%d: the bytes differ from WriteBlob's", from, to.c, to.level)
			}
			if b != wantBlob {
				t.Errorf("%s to %s/%d: blob %+v, want %+v", from, to.c, to.level, b, wantBlob)
			}
		}
	}
}

func TestRecompressChecksDiffID(t *testing.T) {
	var src bytes.Buffer
	if _, err := WriteBlob(t.Context(), &src, tree(t, writeCases[0].upper...), nil); err != nil {
		t.Fatal(err)
	}
	_, err := Recompress(t.Context(), &bytes.Buffer{}, &src, "", digest.FromString("other"), WithCompression(Zstd, 0))
	if !errors.Is(err, ErrDiffIDMismatch) {
		t.Fatalf("err = %v, want ErrDiffIDMismatch", err)
	}
}

func TestParseCompression(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level int
		err   string
	}{
		{"gzip", 0, ""},
		{"gzip", 9, ""},
		{"zstd", 22, ""},
		{"none", 0, ""},
		{"gzip", 10, "compression level 10 is out of range for gzip (1 to 9)"},
		{"zstd", -1, "compression level -1 is out of range for zstd (1 to 22)"},
		{"none", 3, "compression none takes no level"},
		{"lz4", 0, `unknown compression "lz4" (want gzip, zstd or none)`},
	} {
		c, err := ParseCompression(tc.name, tc.level)
		switch {
		case tc.err == "" && (err != nil || string(c) != tc.name):
			t.Errorf("%s/%d: %q, %v", tc.name, tc.level, c, err)
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s/%d: err = %v, want %q", tc.name, tc.level, err, tc.err)
		}
	}
}
