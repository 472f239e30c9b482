package registry

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/cache"
)

// A build asks the registry of each base what its tag names now (one
// HEAD, headTag), and waits for the answer before its first RUN runs
// its command and before it writes its image. A Prefetcher asks, as the
// build's process starts, the tags that the last build of the same
// Dockerfile asked (their manifest URLs are kept in the store's state):
// the answer then comes while the build parses, plans and looks up its
// steps. A pull that asks one of those URLs takes the answer instead of
// asking again, once; the tag is then resolved as of the build's start,
// milliseconds earlier. A URL the build no longer asks costs one HEAD.

// Prefetcher holds the answers to the HEADs of one build's start.
type Prefetcher struct {
	key  string
	read []string // the URLs read from the state

	mu    sync.Mutex
	heads map[string]*prefetched // not taken yet, by URL
	asked []string               // the URLs the build's pulls asked
}

// prefetched is one HEAD, asked or answered.
type prefetched struct {
	done chan struct{}
	d    digest.Digest
	ok   bool
}

// StartPrefetch reads the manifest URLs that the last build under key
// asked, from the state of the store at cacheDir, and asks each in the
// background. It reads the state file alone: it makes nothing, and
// takes no lock (state files are replaced whole). opts are the build's
// registry options: a URL over plain HTTP is asked only for a registry
// they allow it. It returns nil for an empty key.
func StartPrefetch(ctx context.Context, cacheDir, key string, opts ...Option) *Prefetcher {
	if key == "" {
		return nil
	}
	p := &Prefetcher{key: key, heads: map[string]*prefetched{}}
	data, err := os.ReadFile(cache.StatePathIn(cacheDir, stateName(headsKind, key)))
	if err != nil || json.Unmarshal(data, &p.read) != nil {
		p.read = nil
		return p
	}
	o := makeOptions(opts)
	for _, u := range p.read {
		if !manifestURL(u) {
			continue
		}
		h := &prefetched{done: make(chan struct{})}
		p.heads[u] = h
		go func() {
			defer close(h.done)
			h.d, h.ok = headManifest(ctx, o, u)
		}()
	}
	return p
}

// manifestURL tells whether u is what headTag asks: a manifest of a
// registry, over http or https.
func manifestURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" &&
		strings.HasPrefix(p.Path, "/v2/") && strings.Contains(p.Path, "/manifests/")
}

// take is the answer prefetched for url, if any, taken once; it notes
// that the build asked url.
func (p *Prefetcher) take(ctx context.Context, url string) (d digest.Digest, ok, found bool) {
	if p == nil {
		return "", false, false
	}
	p.mu.Lock()
	h := p.heads[url]
	delete(p.heads, url)
	if !slices.Contains(p.asked, url) {
		p.asked = append(p.asked, url)
	}
	p.mu.Unlock()
	if h == nil {
		return "", false, false
	}
	select {
	case <-h.done:
		return h.d, h.ok, true
	case <-ctx.Done():
		return "", false, true
	}
}

// Remember keeps, in store's state under the Prefetcher's key, the URLs
// the build's pulls asked, for the next build's StartPrefetch. It writes
// only when they differ from those read, and unflushed: a file a crash
// loses only costs the next build its head start. A nil Prefetcher
// remembers nothing.
func (p *Prefetcher) Remember(store *cache.Store) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	asked := slices.Clone(p.asked)
	p.mu.Unlock()
	slices.Sort(asked)
	read := slices.Clone(p.read)
	slices.Sort(read)
	if slices.Equal(asked, read) {
		return nil
	}
	data, err := json.Marshal(asked)
	if err != nil {
		return err
	}
	return store.WriteStateUnflushed(stateName(headsKind, p.key), data)
}

// WithPrefetcher has a pull take the answers p asked ahead, and note in
// p the URLs it asks.
func WithPrefetcher(p *Prefetcher) Option {
	return func(o *options) { o.prefetcher = p }
}
