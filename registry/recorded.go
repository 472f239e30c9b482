package registry

import (
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mybuild/mybuild/cache"
)

// Recorded is what Pull of ref with policy and opts returns when the
// registry says that the tag still names what it named last, and the
// store holds all of that image: it reads the store alone. ok is false
// when there is no such record, and for what Pull answers without the
// network anyway (a reference by digest, the pull policy never). A
// caller may go on with the image while Pull asks the registry, and
// compare their digests once it has to be sure.
func Recorded(ref string, store *cache.Store, policy PullPolicy, opts ...Option) (res *PullResult, ok bool) {
	if policy == PullNever {
		return nil, false
	}
	o := makeOptions(opts)
	r, err := parseReference(ref, o)
	if err != nil {
		return nil, false
	}
	if _, byDigest := r.(name.Digest); byDigest {
		return nil, false
	}
	p := newPuller(r, o, store)
	last := loadRefState(store, p.canon, p.platform)
	if last == nil || !p.complete(last) {
		return nil, false
	}
	img, err := last.image()
	if err != nil {
		return nil, false
	}
	return &PullResult{Image: img, Digest: last.ManifestDigest, RefDigest: last.Digest, Ref: p.canon}, true
}
