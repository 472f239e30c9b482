package registry

import (
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// A resolution kept before platforms were normalized, under the arm64
// host's old spelling linux/arm64/v8, is found for linux/arm64: the
// pull policies never and missing still find what was pulled.
func TestRefStateUnderLegacyPlatform(t *testing.T) {
	s := openStore(t)
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
