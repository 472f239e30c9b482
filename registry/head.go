package registry

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
)

// headTimeout bounds headTag: past it, the pull asks the usual way.
const headTimeout = 3 * time.Second

// manifestTypes are the media types a manifest HEAD accepts, as ggcr's
// Head sends them: the registry answers with the digest of the same
// manifest for the same Accept.
var manifestTypes = strings.Join([]string{
	string(types.DockerManifestSchema1), string(types.DockerManifestSchema1Signed),
	string(types.DockerManifestSchema2), string(types.OCIManifestSchema1),
	string(types.DockerManifestList), string(types.OCIImageIndex),
}, ",")

// headTag asks endpoint (scheme://host, where the registry answered with
// no credentials before) for the digest of the reference's tag, with one
// HEAD: no ping, which for a registry allowed plain HTTP first tries
// HTTPS, and no token. ok is false for any other answer than a digest,
// and the pull then asks the usual way: credentials needed now, another
// scheme, an unreachable registry (whose error that way is the one
// reported).
func (p *puller) headTag(ctx context.Context, endpoint string) (digest.Digest, bool) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host != p.ref.Context().RegistryStr() {
		return "", false
	}
	manifest := endpoint + "/v2/" + p.ref.Context().RepositoryStr() + "/manifests/" + p.ref.Identifier()
	if d, ok, found := p.o.prefetcher.take(ctx, manifest); found {
		return d, ok
	}
	return headManifest(ctx, p.o, manifest)
}

// headManifest is the HEAD of headTag, of the manifest at url.
func headManifest(ctx context.Context, o *options, url string) (digest.Digest, bool) {
	ctx, cancel := context.WithTimeout(ctx, headTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return "", false
	}
	req.Header.Set("Accept", manifestTypes)
	req.Header.Set("User-Agent", "mybuild")
	resp, err := (&tlsPolicy{inner: o.transport, o: o}).RoundTrip(req)
	if err != nil {
		return "", false
	}
	resp.Body.Close()
	d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if resp.StatusCode != http.StatusOK || err != nil {
		return "", false
	}
	return d, true
}

// endpointSeen is where a pull's manifest requests were answered, and
// whether any of them carried credentials.
type endpointSeen struct {
	mu         sync.Mutex
	endpoint   string
	answered   bool
	credential bool
}

// watch wraps the pull's transport (below ggcr's authentication) to see
// where the registry answers for manifests, and whether with
// credentials.
func (p *puller) watch(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil && resp.StatusCode == http.StatusOK && strings.Contains(req.URL.Path, "/manifests/") {
			p.seen.mu.Lock()
			p.seen.endpoint, p.seen.answered = req.URL.Scheme+"://"+req.URL.Host, true
			p.seen.credential = p.seen.credential || req.Header.Get("Authorization") != ""
			p.seen.mu.Unlock()
		}
		return resp, err
	})
}

// endpoint is the Endpoint a refState keeps: where the registry answered
// for manifests, unless it was asked with credentials. answered is false
// when it did not answer at all (the state keeps what it had).
func (p *puller) endpoint() (endpoint string, answered bool) {
	p.seen.mu.Lock()
	defer p.seen.mu.Unlock()
	if p.seen.credential {
		return "", p.seen.answered
	}
	return p.seen.endpoint, p.seen.answered
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
