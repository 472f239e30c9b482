package registry

import (
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// jobs is how many blobs move at once, as skopeo does by default.
const jobs = 6

// Option configures Pull, Push, ParseReference and NewCacheRepo.
type Option func(*options)

type options struct {
	platform ocispec.Platform
	// anyLone takes a single-platform image for another platform.
	anyLone   bool
	insecure  []string
	keychain  authn.Keychain
	transport http.RoundTripper
	progress  func(Progress)
	mu        *sync.Mutex // serialises progress calls
	// prefetcher holds the HEADs asked as the build started.
	prefetcher *Prefetcher
}

// Progress is one event about one blob: it is being moved (Done of Total
// bytes), it is done (Done == Total), or nothing had to move because the
// destination already had it (Skipped) or the registry mounted it from
// another repository (Mounted). Events come for layer blobs only; configs
// and manifests are small.
type Progress struct {
	Ref     string // the normalised reference of the pull or push
	Digest  digest.Digest
	Done    int64
	Total   int64
	Skipped bool
	Mounted bool
}

// WithPlatform selects the image of an index or manifest list. The default
// is image.HostPlatform().
func WithPlatform(p ocispec.Platform) Option {
	return func(o *options) { o.platform = p }
}

// WithAnyLonePlatform takes a single-platform image (a manifest, not an
// index) whatever platform its config names, as BuildKit's FROM does;
// the caller compares its config with the platform it wanted. Without
// it, such an image for another platform is an ErrNoPlatform error.
func WithAnyLonePlatform() Option {
	return func(o *options) { o.anyLone = true }
}

// WithInsecure lists registries, as HOST[:PORT], that are reached over
// plain HTTP. A HOST without a port matches every port. localhost,
// 127.0.0.1 and ::1 always are; every other registry needs TLS.
func WithInsecure(hosts ...string) Option {
	return func(o *options) { o.insecure = append(o.insecure, hosts...) }
}

// WithKeychain sets where credentials come from. The default is Docker's
// config file (~/.docker/config.json, or config.json in $DOCKER_CONFIG)
// with its credential helpers, read at each operation.
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) { o.keychain = k }
}

// WithTransport sets the HTTP transport, for tests. Authentication,
// retries and the plain-HTTP policy are layered on top of it.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) { o.transport = rt }
}

// WithProgress reports per-blob progress. fn is never called by two
// goroutines at once.
func WithProgress(fn func(Progress)) Option {
	return func(o *options) { o.progress = fn }
}

func makeOptions(opts []Option) *options {
	o := &options{platform: image.HostPlatform(), mu: new(sync.Mutex)}
	for _, opt := range opts {
		opt(o)
	}
	if o.transport == nil {
		o.transport = remote.DefaultTransport // shared: connections are reused
	}
	return o
}

func (o *options) report(p Progress) {
	if o.progress == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.progress(p)
}

// remoteOptions configures ggcr for one operation. wrap, if not nil, sees
// every request after authentication.
func (o *options) remoteOptions(wrap func(http.RoundTripper) http.RoundTripper) []remote.Option {
	var rt http.RoundTripper = &tlsPolicy{inner: o.transport, o: o}
	if wrap != nil {
		rt = wrap(rt)
	}
	ropts := []remote.Option{
		remote.WithTransport(rt),
		remote.WithUserAgent("mybuild"),
		remote.WithJobs(jobs),
	}
	if o.keychain != nil {
		ropts = append(ropts, remote.WithAuthFromKeychain(o.keychain))
	} else {
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	return ropts
}

func (o *options) resolveAuth(r authn.Resource) authn.Authenticator {
	k := o.keychain
	if k == nil {
		k = authn.DefaultKeychain
	}
	a, err := k.Resolve(r)
	if err != nil {
		return authn.Anonymous
	}
	return a
}

// credentialsFile names where the credentials come from, for messages.
func (o *options) credentialsFile() string {
	if o.keychain != nil {
		return ""
	}
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json")
	}
	return "~/.docker/config.json"
}
