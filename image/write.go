package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"maps"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultName is the ref name given to an image written without one.
const DefaultName = "latest"

// orDefaultName is name, or DefaultName for none.
func orDefaultName(name string) string {
	if name == "" {
		return DefaultName
	}
	return name
}

// openBlob opens blob d of the store, which must be size bytes, as the
// store hands it over (wrap it with ctxio for a copy that stops soon
// after ctx is done). Reading it to the end makes the store check its
// digest, unless it is the file itself, which the store vouches for.
func openBlob(ctx context.Context, store Store, d digest.Digest, size int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, stored, err := store.OpenBlob(d)
	if err != nil {
		return nil, err
	}
	if stored != size {
		r.Close()
		return nil, fmt.Errorf("blob %s: stored size %d, want %d", d, stored, size)
	}
	return r, nil
}

// newIndex is an image index listing descs.
func newIndex(descs ...ocispec.Descriptor) ocispec.Index {
	return ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: descs,
	}
}

// namedDescriptor is desc named name in an index, keeping its other
// annotations.
func namedDescriptor(desc ocispec.Descriptor, name string) ocispec.Descriptor {
	desc.Annotations = maps.Clone(desc.Annotations)
	if desc.Annotations == nil {
		desc.Annotations = map[string]string{}
	}
	desc.Annotations[ocispec.AnnotationRefName] = name
	return desc
}

// layoutJSON is the content of the oci-layout file.
func layoutJSON() []byte {
	return []byte(`{"imageLayoutVersion":"` + ocispec.ImageLayoutVersion + `"}`)
}

// writeBlobDirs writes the directories blobs are in.
func writeBlobDirs(tw *tar.Writer) error {
	for _, dir := range []string{ocispec.ImageBlobsDir + "/", ocispec.ImageBlobsDir + "/sha256/"} {
		if err := tw.WriteHeader(archiveHeader(dir, tar.TypeDir, 0)); err != nil {
			return err
		}
	}
	return nil
}

func writeTarFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(archiveHeader(name, tar.TypeReg, int64(len(data)))); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// archiveHeader gives every entry of an output archive the same fixed
// fields, so that the archive bytes depend on the image only.
func archiveHeader(name string, typ byte, size int64) *tar.Header {
	mode := int64(0o644)
	if typ == tar.TypeDir {
		mode = 0o755
	}
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Size:     size,
		Mode:     mode,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatPAX,
	}
}
