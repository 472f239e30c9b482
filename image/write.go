package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/internal/ctxio"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultName is the ref name given to an image written without one.
const DefaultName = "latest"

// Save writes img where ref says and returns the manifest of what it
// wrote:
//
//   - oci-archive:PATH[:REF] replaces PATH with a tar of an OCI layout
//     holding img alone, named REF (default "latest");
//   - oci:DIR[:REF] adds img to the OCI layout in DIR, creating it if
//     need be, and names it REF (default "latest"), replacing any image
//     of that name;
//   - docker-archive:PATH[:NAME:TAG] replaces PATH with what `docker save`
//     writes and `docker load` reads; it holds the layers uncompressed, so
//     the manifest returned is that of img with uncompressed layers, the
//     one Load of the archive gives.
//
// An archive is replaced atomically: a reader sees the old one or the
// whole new one. In a layout, index.json is replaced atomically once every
// blob it names is in place, so that it never names a missing one.
func Save(ctx context.Context, ref Ref, img *Image, store Store) (*Manifest, error) {
	m, err := saveImage(ctx, ref, img, store)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", ref, err)
	}
	return m, nil
}

// ValidateDestination checks, without writing anything, that Save can
// write to ref: its transport, and a docker-archive's NAME:TAG. A CLI can
// so refuse a bad -t before building.
func ValidateDestination(ref Ref) error {
	switch ref.Transport {
	case OCIArchive, OCILayout:
		return nil
	case DockerArchive:
		if ref.Name == "" {
			return nil
		}
		_, err := parseDockerTag(ref.Name)
		return err
	}
	return fmt.Errorf("%w %q", ErrUnsupportedTransport, ref.Transport)
}

func saveImage(ctx context.Context, ref Ref, img *Image, store Store) (*Manifest, error) {
	name := ref.Name
	if name == "" && ref.Transport != DockerArchive {
		name = DefaultName
	}
	switch ref.Transport {
	case OCIArchive:
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		return m, atomicfile.Write(ref.Path, func(w io.Writer) error {
			return writeOCIArchive(ctx, w, img, m, name, store)
		})
	case OCILayout:
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		return m, writeOCIDir(ctx, ref.Path, img, m, name, store)
	case DockerArchive:
		return writeDockerArchive(ctx, ref.Path, img, name, store)
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupportedTransport, ref.Transport)
}

// openBlob opens blob d of the store, which must be size bytes, for a
// copy that stops soon after ctx is done. Reading it to the end makes the
// store check its digest.
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
	return ctxio.ReadCloser(ctx, r), nil
}

// newIndex is an image index listing descs.
func newIndex(descs ...ocispec.Descriptor) ocispec.Index {
	return ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: descs,
	}
}

// namedDescriptor is desc named name in an index.
func namedDescriptor(desc ocispec.Descriptor, name string) ocispec.Descriptor {
	desc.Annotations = map[string]string{ocispec.AnnotationRefName: name}
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
