package layerdiff

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mybuild/mybuild/layer"
	"github.com/opencontainers/go-digest"
)

// Converting a blob gives the very bytes writing the layer in the target
// compression gives, from every source compression.
func TestRecompressMatchesWriteBlob(t *testing.T) {
	upper := tree(t, append(writeCases[0].upper, writeCases[1].upper...)...)
	write := func(c layer.Algorithm, level int) ([]byte, layer.Layer) {
		var buf bytes.Buffer
		b, err := WriteBlob(t.Context(), &buf, upper, nil, withCompression(c, level), WithSourceDateEpoch(epoch))
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), b
	}
	targets := []struct {
		c     layer.Algorithm
		level int
	}{{layer.Gzip, 0}, {layer.Gzip, 9}, {layer.Zstd, 0}, {layer.Zstd, 19}, {layer.Uncompressed, 0}}
	for _, from := range []layer.Algorithm{layer.Gzip, layer.Zstd, layer.Uncompressed} {
		src, srcBlob := write(from, 0)
		for _, to := range targets {
			want, wantBlob := write(to.c, to.level)
			var got bytes.Buffer
			b, err := Recompress(t.Context(), &got, bytes.NewReader(src), srcBlob.MediaType, srcBlob.DiffID, withCompression(to.c, to.level))
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
	_, err := Recompress(t.Context(), &bytes.Buffer{}, &src, "", digest.FromString("other"), withCompression(layer.Zstd, 0))
	if !errors.Is(err, ErrDiffIDMismatch) {
		t.Fatalf("err = %v, want ErrDiffIDMismatch", err)
	}
}
