package layer

import (
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

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
		case tc.err == "" && (err != nil || string(c.Algorithm) != tc.name || c.Level != tc.level):
			t.Errorf("%s/%d: %q, %v", tc.name, tc.level, c, err)
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s/%d: err = %v, want %q", tc.name, tc.level, err, tc.err)
		}
	}
}

func TestAlgorithmOf(t *testing.T) {
	for mt, want := range map[string]Algorithm{
		ocispec.MediaTypeImageLayerGzip:                     Gzip,
		ocispec.MediaTypeImageLayerZstd:                     Zstd,
		ocispec.MediaTypeImageLayer:                         Uncompressed,
		"application/vnd.docker.image.rootfs.diff.tar.gzip": Gzip,
		"application/vnd.docker.image.rootfs.diff.tar":      Uncompressed,
		"application/octet-stream":                          "",
	} {
		if got := AlgorithmOf(mt); got != want {
			t.Errorf("AlgorithmOf(%s) = %q, want %q", mt, got, want)
		}
	}
}

func TestCompressionDefaults(t *testing.T) {
	var zero Compression
	if mt, err := zero.MediaType(); err != nil || mt != ocispec.MediaTypeImageLayerGzip {
		t.Errorf("zero Compression: %s, %v", mt, err)
	}
	if s := (Compression{Algorithm: Zstd, Level: 19}).String(); s != "zstd level 19" {
		t.Errorf("String = %q", s)
	}
	l := Layer{MediaType: ocispec.MediaTypeImageLayerZstd, Level: 3}
	if c := l.Compression(); c != (Compression{Algorithm: Zstd, Level: 3}) {
		t.Errorf("Layer.Compression = %+v", c)
	}
}
