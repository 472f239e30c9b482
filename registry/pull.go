package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
)

// PullPolicy says when Pull asks the registry.
type PullPolicy string

const (
	// PullMissing resolves the reference with one request, and downloads
	// only what the store lacks. When the registry cannot be reached, the
	// last resolution of the reference is used, with a warning. A
	// reference by digest that was pulled before needs no request at all.
	PullMissing PullPolicy = "missing"
	// PullAlways is PullMissing without the offline fallback.
	PullAlways PullPolicy = "always"
	// PullNever uses the last resolution of the reference, and never the
	// network.
	PullNever PullPolicy = "never"
)

// ParsePullPolicy parses "always", "missing" or "never"; "" is "missing".
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch p := PullPolicy(s); p {
	case "":
		return PullMissing, nil
	case PullAlways, PullMissing, PullNever:
		return p, nil
	}
	return "", fmt.Errorf("invalid pull policy %q: want always, missing or never", s)
}

// PullResult is a pulled image, whose blobs are all in the store.
type PullResult struct {
	Image *image.Image
	// Digest is the manifest of the image for the platform.
	Digest digest.Digest
	// RefDigest is what the reference resolved to: an index, or the same
	// manifest as Digest.
	RefDigest digest.Digest
	// Ref is the normalised reference, docker.io/library/alpine:latest.
	Ref string
	// Warning is set when the registry could not be reached and the last
	// resolution of the reference was used instead.
	Warning string
}

// Pull resolves ref for the platform (an index resolves to the platform's
// manifest) and stores every layer blob the store lacks, several at once,
// each checked against its digest. Docker schema 2 and OCI manifests are
// read; layers may be gzip, zstd or uncompressed, and get OCI media types.
// The manifest and config are kept in a state file of the store, with the
// reference's resolution (see PullPolicy).
func Pull(ctx context.Context, ref string, store *cache.Store, policy PullPolicy, opts ...Option) (*PullResult, error) {
	o := makeOptions(opts)
	r, err := parseReference(ref, o)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	if policy == "" {
		policy = PullMissing
	}
	if _, err := ParsePullPolicy(string(policy)); err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	p := newPuller(r, o, store)
	res, err := p.run(ctx, policy)
	if err != nil {
		return nil, opError("pull", r, o, err)
	}
	return res, nil
}

type puller struct {
	o        *options
	ref      name.Reference
	canon    string
	platform string
	store    *cache.Store
	remote   *remote.Puller
	// seen is what watch saw of the manifest requests that succeeded.
	seen endpointSeen
	// index is the index the reference named, once resolve read it:
	// what inspect lists.
	index *image.IndexInfo
}

// newPuller is the puller of reference r with o, into store (nil to
// store nothing: Inspect).
func newPuller(r name.Reference, o *options, store *cache.Store) *puller {
	return &puller{o: o, ref: r, canon: Canonical(r), platform: image.FormatPlatform(o.platform), store: store}
}

func (p *puller) run(ctx context.Context, policy PullPolicy) (*PullResult, error) {
	last := loadRefState(p.store, p.canon, p.platform)
	if policy == PullNever {
		if last == nil {
			return nil, fail(ErrNotFound, "not pulled before, and the pull policy %q does not allow the network", PullNever)
		}
		return p.finish(ctx, last, last, fmt.Sprintf("the pull policy %q does not allow the network", PullNever), "")
	}
	if _, byDigest := p.ref.(name.Digest); byDigest && last != nil && p.complete(last) {
		return p.finish(ctx, last, last, "", "") // a digest never changes
	}
	if last != nil && last.Endpoint != "" && p.complete(last) {
		if d, ok := p.headTag(ctx, last.Endpoint); ok && d == last.Digest {
			return p.finish(ctx, last, last, "", "")
		}
	}
	var err error
	if p.remote, err = remote.NewPuller(p.o.remoteOptions(p.watch)...); err != nil {
		return nil, err
	}
	target := p.ref
	if last != nil {
		desc, err := p.remote.Head(ctx, p.ref)
		if err == nil {
			if digest.Digest(desc.Digest.String()) == last.Digest {
				return p.finish(ctx, last, last, "", "")
			}
			// Resolve by digest, in case the tag moves again meanwhile.
			target = p.ref.Context().Digest(desc.Digest.String())
		} else {
			f := describe(err, p.ref.Context(), p.o)
			switch {
			case f.kind == ErrUnreachable && policy == PullMissing && p.complete(last):
				warning := fmt.Sprintf("%s: %s; using the image it resolved to on %s (%s)",
					p.canon, f.msg, last.Resolved.UTC().Format("2006-01-02 15:04 MST"), last.Digest)
				return p.finish(ctx, last, last, "", warning)
			case f.kind != nil || ctx.Err() != nil:
				return nil, err
			}
			// Any other answer to HEAD (some registries send no digest
			// header): try GET.
		}
	}
	st, err := p.resolve(ctx, target)
	if err != nil {
		return nil, err
	}
	return p.finish(ctx, st, last, "", "")
}

// finish builds the image of st and stores the layer blobs it lacks.
// offline, when set, says why the network may not be used.
func (p *puller) finish(ctx context.Context, st, last *refState, offline, warning string) (*PullResult, error) {
	img, err := st.image()
	if err != nil {
		return nil, err
	}
	if offline != "" || p.remote == nil {
		for _, l := range img.Layers {
			if !p.store.HasBlob(l.Digest, l.Size) {
				why := offline
				if why == "" {
					why = "the registry was not asked"
				}
				return nil, fail(ErrNotFound, "layer %s is no longer in the store, and %s", l.Digest, why)
			}
		}
	}
	if err := p.fetchLayers(ctx, img.Layers); err != nil {
		return nil, err
	}
	changed := last == nil || st.Digest != last.Digest || st.ManifestDigest != last.ManifestDigest
	if e, answered := p.endpoint(); p.remote != nil && answered && e != st.Endpoint {
		st.Endpoint, changed = e, true
	}
	if changed {
		if err := saveRefState(p.store, st); err != nil {
			return nil, err
		}
	}
	if p.remote != nil {
		blobs := make([]digest.Digest, len(img.Layers))
		for i, l := range img.Layers {
			blobs[i] = l.Digest
		}
		rememberBlobs(p.store, p.ref.Context(), blobs)
	}
	return &PullResult{Image: img, Digest: st.ManifestDigest, RefDigest: st.Digest, Ref: p.canon, Warning: warning}, nil
}

// complete reports whether the store has every layer of st.
func (p *puller) complete(st *refState) bool {
	img, err := st.image()
	if err != nil {
		return false
	}
	for _, l := range img.Layers {
		if !p.store.HasBlob(l.Digest, l.Size) {
			return false
		}
	}
	return true
}
