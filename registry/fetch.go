package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
)

// progressStep is how many bytes pass between two progress events of a
// blob.
const progressStep = 1 << 20

// fetchLayers stores the layer blobs the store lacks, jobs at a time.
// Each blob is checked against its digest twice: by ggcr while it is
// read, and by the store before it is renamed into place, so an
// interrupted or damaged download leaves nothing behind.
func (p *puller) fetchLayers(ctx context.Context, layers []image.Layer) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	seen := map[digest.Digest]bool{}
	for _, l := range layers {
		if seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		if p.store.HasBlob(l.Digest, l.Size) {
			p.o.report(Progress{Ref: p.canon, Digest: l.Digest, Done: l.Size, Total: l.Size, Skipped: true})
			continue
		}
		g.Go(func() error {
			return layerError(l.Digest, p.fetchBlob(ctx, l))
		})
	}
	return g.Wait()
}

func (p *puller) fetchBlob(ctx context.Context, l image.Layer) error {
	rl, err := p.remote.Layer(ctx, p.ref.Context().Digest(l.Digest.String()))
	if err != nil {
		return err
	}
	rc, err := rl.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	report := func(done int64) {
		p.o.report(Progress{Ref: p.canon, Digest: l.Digest, Done: done, Total: l.Size})
	}
	report(0)
	if err := p.store.PutBlob(l.Digest, l.Size, &progressReader{r: rc, emit: report}); err != nil {
		return err
	}
	report(l.Size)
	return nil
}

// layerError puts the layer in front of err. ggcr's verifying reader
// says "error verifying sha256 checksum after reading N bytes; got X,
// want Y"; that becomes one short line.
func layerError(d digest.Digest, err error) error {
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "error verifying"), errors.Is(err, cache.ErrCorrupt):
		return fail(cache.ErrCorrupt, "layer %s: the registry sent bytes that do not match the digest", d)
	}
	return fmt.Errorf("layer %s: %w", d, err)
}

// progressReader reports how much was read, every progressStep bytes.
type progressReader struct {
	r    io.Reader
	emit func(done int64)
	done int64
	last int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.emit != nil && p.done-p.last >= progressStep {
		p.last = p.done
		p.emit(p.done)
	}
	return n, err
}
