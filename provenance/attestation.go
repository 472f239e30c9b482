package provenance

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
)

// What BuildKit writes in an attestation manifest, and on its entry in
// the index (exporter/containerimage/writer.go, commitAttestationsManifest).
const (
	// MediaTypeInToto is the media type of the statement layer.
	MediaTypeInToto = "application/vnd.in-toto+json"
	// AnnotationPredicateType, on the layer, names its predicate type.
	AnnotationPredicateType = "in-toto.io/predicate-type"
	// AnnotationReferenceDigest, on the index entry, names the manifest
	// of the image the attestations are about; image.AnnotationReferenceType
	// says the entry is image.AttestationManifest.
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
)

// Attestation is the attestation manifest of one image: an image whose
// platform is unknown/unknown and whose one layer is the statement.
type Attestation struct {
	// Image is the manifest: its config (the platform and the diffID of
	// the layer, as BuildKit's), its layer, and the annotations of its
	// entry in the index.
	Image *image.Image
	// Statement is the layer's content.
	Statement []byte
}

// NewAttestation renders stmt as the attestation manifest of the image
// whose manifest is target.
func NewAttestation(stmt *Statement, target digest.Digest) (*Attestation, error) {
	data, err := json.Marshal(stmt)
	if err != nil {
		return nil, fmt.Errorf("encode provenance: %w", err)
	}
	d := digest.FromBytes(data)
	img := &image.Image{
		Layers: []layer.Layer{{
			MediaType: MediaTypeInToto,
			Digest:    d,
			DiffID:    d,
			Size:      int64(len(data)),
		}},
		LayerAnnotations: []map[string]string{{AnnotationPredicateType: stmt.PredicateType}},
		DescriptorAnnotations: map[string]string{
			AnnotationReferenceDigest:     target.String(),
			image.AnnotationReferenceType: image.AttestationManifest,
		},
	}
	img.Config.OS, img.Config.Architecture = "unknown", "unknown"
	return &Attestation{Image: img, Statement: data}, nil
}

// Store puts the statement in store, where the writers of an image read
// its layers.
func (a *Attestation) Store(store image.Store) error {
	l := a.Image.Layers[0]
	if store.HasBlob(l.Digest, l.Size) {
		return nil
	}
	if err := store.PutBlob(l.Digest, l.Size, bytes.NewReader(a.Statement)); err != nil {
		return fmt.Errorf("store provenance: %w", err)
	}
	return nil
}
