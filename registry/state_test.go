package registry

import (
	"os"
	"path/filepath"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// dirState keeps state files in a directory.
type dirState string

func (d dirState) StatePath(name string) string { return filepath.Join(string(d), name) }
func (d dirState) WriteState(name string, data []byte) error {
	return os.WriteFile(d.StatePath(name), data, 0o600)
}

// A resolution kept before platforms were normalized, under the arm64
// host's old spelling linux/arm64/v8, is found for linux/arm64: the
// pull policies never and missing still find what was pulled.
func TestRefStateUnderLegacyPlatform(t *testing.T) {
	s := dirState(t.TempDir())
	manifest := []byte(`{"schemaVersion":2}`)
	old := &refState{Ref: "example.com/app:1", Platform: "linux/arm64/v8", Digest: digest.FromBytes(manifest),
		ManifestDigest: digest.FromBytes(manifest), Manifest: manifest}
	if err := saveRefState(s, old); err != nil {
		t.Fatal(err)
	}
	st := loadRefState(s, "example.com/app:1", "linux/arm64")
	if st == nil || st.Platform != "linux/arm64" || st.Digest != old.Digest {
		t.Fatalf("got %+v", st)
	}
	if loadRefState(s, "example.com/app:1", "linux/amd64") != nil {
		t.Error("another platform found the arm64 resolution")
	}
}
