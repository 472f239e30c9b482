package build

import (
	"context"
	"io"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/internal/readprogress"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/transport"
	digest "github.com/opencontainers/go-digest"
)

// blobReporter is a Reporter that shows how far the blobs under way are:
// those a pull or a push moves (registry.WithProgress), and the long
// work of the build between its steps, as blobs too: a base layer
// unpacked ("unpacking"), a layer converted ("compressing to zstd"), an
// OCI archive written ("writing DEST"), with the bytes done of the total.
type blobReporter interface {
	Blob(p registry.Progress)
}

// blobWork reports one blob's work; nil when the reporter shows none.
type blobWork struct {
	br      blobReporter
	p       registry.Progress
	started bool
}

func (b *builder) blobWork(what string, l layer.Layer) *blobWork {
	br, ok := b.rep.(blobReporter)
	if !ok {
		return nil
	}
	return &blobWork{br: br, p: registry.Progress{Ref: what, Digest: l.Digest, Total: l.Size}}
}

// at reports the bytes done so far.
func (w *blobWork) at(done int64) {
	w.started, w.p.Done = true, done
	w.br.Blob(w.p)
}

// done reports the work done, when it was reported under way and did
// not end at its total (a reader that stopped short of the blob's end).
func (w *blobWork) done() {
	if w != nil && w.started && w.p.Done < w.p.Total {
		w.at(w.p.Total)
	}
}

// unpacking is ctx, with the bytes read of l's blob, when it is unpacked,
// reported.
func (b *builder) unpacking(ctx context.Context, l layer.Layer) (context.Context, *blobWork) {
	w := b.blobWork("unpacking", l)
	if w == nil {
		return ctx, nil
	}
	return rootfs.WithReadProgress(ctx, w.at), w
}

// compressing is r, the blob of l being converted to c, with the bytes
// read reported.
func (b *builder) compressing(r io.Reader, l layer.Layer, c layer.Compression) (io.Reader, *blobWork) {
	w := b.blobWork("compressing to "+c.String(), l)
	if w == nil {
		return r, nil
	}
	return readprogress.New(r, w.at), w
}

// writing is ctx, with the bytes of img's layers written to out, whose
// manifest is m, when out is an OCI archive, reported.
func (b *builder) writing(ctx context.Context, out transport.Ref, img *image.Image, m *image.Manifest) context.Context {
	br, ok := b.rep.(blobReporter)
	if !ok || out.Transport != transport.OCIArchive {
		return ctx
	}
	// As the archive holds them: a blob two layers share, once.
	var total int64
	seen := map[digest.Digest]bool{}
	for _, l := range img.Layers {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			total += l.Size
		}
	}
	ref := "writing " + out.String()
	return image.WithWriteProgress(ctx, func(written int64) {
		br.Blob(registry.Progress{Ref: ref, Digest: m.Descriptor.Digest, Done: written, Total: total})
	})
}
