package build

import (
	"context"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/transport"
)

// blobReporter is a Reporter that shows how far the blobs under way are:
// those a pull or a push moves (registry.WithProgress), and the long
// work of the build between its steps, as blobs too: a base layer
// unpacked ("unpacking"), an OCI archive written ("writing DEST"), with
// the bytes done of the total.
type blobReporter interface {
	Blob(p registry.Progress)
}

// unpacking is ctx, with the bytes read of l's blob, when it is unpacked,
// reported as such.
func (b *builder) unpacking(ctx context.Context, l layer.Layer) context.Context {
	br, ok := b.rep.(blobReporter)
	if !ok {
		return ctx
	}
	return rootfs.WithReadProgress(ctx, func(read int64) {
		br.Blob(registry.Progress{Ref: "unpacking", Digest: l.Digest, Done: read, Total: l.Size})
	})
}

// writing is ctx, with the bytes of img's layers written to out, whose
// manifest is m, when out is an OCI archive, reported as such.
func (b *builder) writing(ctx context.Context, out transport.Ref, img *image.Image, m *image.Manifest) context.Context {
	br, ok := b.rep.(blobReporter)
	if !ok || out.Transport != transport.OCIArchive {
		return ctx
	}
	var total int64
	for _, l := range img.Layers {
		total += l.Size
	}
	ref := "writing " + out.String()
	return image.WithWriteProgress(ctx, func(written int64) {
		br.Blob(registry.Progress{Ref: ref, Digest: m.Descriptor.Digest, Done: written, Total: total})
	})
}
