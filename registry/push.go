package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
)

// Push uploads img, whose blobs are in store, to ref, and returns the
// digest of the pushed manifest (an OCI manifest, as img.Manifest renders
// it). Blobs the registry has are not uploaded. A layer that another
// repository of the same registry holds is mounted from there instead of
// uploaded, when the store is a *cache.Store that knows of one: pulls,
// pushes and cache entries remember which blobs each repository holds. A
// registry that refuses the mount gets the upload.
func Push(ctx context.Context, ref string, img *image.Image, store image.Store, opts ...Option) (digest.Digest, error) {
	o := makeOptions(opts)
	r, err := parseReference(ref, o)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return "", fmt.Errorf("push %s: %w", Canonical(r), err)
	}
	if d, ok := r.(name.Digest); ok && d.DigestStr() != m.Descriptor.Digest.String() {
		return "", fmt.Errorf("push %s: the image has digest %s", Canonical(r), m.Descriptor.Digest)
	}
	u, err := newUploader(o, r.Context(), Canonical(r))
	if err == nil {
		err = u.push(ctx, r, store, img.Layers, static.NewLayer(m.ConfigJSON, types.OCIConfigJSON), m.ManifestJSON, types.OCIManifestSchema1)
	}
	if err != nil {
		return "", opError("push", r, o, err)
	}
	return m.Descriptor.Digest, nil
}

// uploader pushes images to a repository. It keeps its connections and
// token from one push to the next.
type uploader struct {
	o      *options
	repo   name.Repository
	canon  string // for progress events
	pusher *remote.Pusher
	seen   *mountSeen
}

func newUploader(o *options, repo name.Repository, canon string) (*uploader, error) {
	seen := &mountSeen{}
	pusher, err := remote.NewPusher(o.remoteOptions(func(rt http.RoundTripper) http.RoundTripper {
		return &mountWatcher{inner: rt, seen: seen}
	})...)
	if err != nil {
		return nil, err
	}
	return &uploader{o: o, repo: repo, canon: canon, pusher: pusher, seen: seen}, nil
}

// push uploads the layers (from store) and config the registry lacks,
// then puts the manifest under ref.
func (u *uploader) push(ctx context.Context, ref name.Reference, store image.Store, layers []layer.Layer, config v1.Layer, manifest []byte, mt types.MediaType) error {
	// Where layers may be mounted from: read once, and only if there is
	// a layer to upload.
	sources := func() map[digest.Digest]name.Repository { return nil }
	ss, hasState := store.(stateStore)
	if hasState {
		sources = sync.OnceValue(func() map[digest.Digest]name.Repository { return mountSources(ss, u.repo) })
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	g.Go(func() error { return u.pusher.Upload(gctx, u.repo, config) })
	done := map[digest.Digest]bool{}
	for _, l := range layers {
		if done[l.Digest] {
			continue
		}
		done[l.Digest] = true
		g.Go(func() error {
			if err := u.uploadLayer(gctx, store, l, sources()[l.Digest]); err != nil {
				return fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := u.pusher.Put(ctx, ref, rawManifest{data: manifest, mt: mt}); err != nil {
		return err
	}
	if hasState {
		blobs := make([]digest.Digest, len(layers))
		for i, l := range layers {
			blobs[i] = l.Digest
		}
		rememberBlobs(ss, u.repo, blobs)
	}
	return nil
}

// uploadLayer uploads one layer blob, or mounts it from src, or finds it
// is there already, and reports which.
func (u *uploader) uploadLayer(ctx context.Context, store image.Store, l layer.Layer, src name.Repository) error {
	sl := &storeLayer{store: store, l: l, emit: func(done int64) {
		u.o.report(Progress{Ref: u.canon, Digest: l.Digest, Done: done, Total: l.Size})
	}}
	var layer v1.Layer = sl
	if src.RepositoryStr() != "" {
		layer = &remote.MountableLayer{Layer: sl, Reference: src.Digest(l.Digest.String())}
	}
	if err := u.pusher.Upload(ctx, u.repo, layer); err != nil {
		if serr := sl.storeErr(); errors.Is(serr, cache.ErrCorrupt) {
			return fail(cache.ErrCorrupt, "the store's copy is damaged (it was deleted: build again)")
		} else if serr != nil {
			return fmt.Errorf("read from the store: %w", serr)
		}
		return err
	}
	ev := Progress{Ref: u.canon, Digest: l.Digest, Done: l.Size, Total: l.Size}
	if !sl.opened.Load() {
		ev.Mounted = u.seen.has(l.Digest)
		ev.Skipped = !ev.Mounted
	}
	u.o.report(ev)
	return nil
}

// rawManifest is a manifest as ggcr puts it.
type rawManifest struct {
	data []byte
	mt   types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.data, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// mountWatcher notes the blobs the registry mounted: ggcr tells whether a
// blob was uploaded, not whether it was found or mounted.
type mountWatcher struct {
	inner http.RoundTripper
	seen  *mountSeen
}

func (w *mountWatcher) RoundTrip(req *http.Request) (*http.Response, error) {
	mount := ""
	if req.Method == http.MethodPost {
		mount = req.URL.Query().Get("mount")
	}
	resp, err := w.inner.RoundTrip(req)
	if err == nil && mount != "" && resp.StatusCode == http.StatusCreated {
		w.seen.add(digest.Digest(mount))
	}
	return resp, err
}

type mountSeen struct {
	mu sync.Mutex
	m  map[digest.Digest]bool
}

func (s *mountSeen) add(d digest.Digest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[digest.Digest]bool{}
	}
	s.m[d] = true
}

func (s *mountSeen) has(d digest.Digest) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[d]
}
