package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mybuild/mybuild/registry/registrytest"
)

// heldBlob lets through every request but the GETs of one blob: the first
// is held until a second arrives or until a while has passed, the time
// for a second fetch to ask for it if nothing stops it.
type heldBlob struct {
	*counter
	path    string
	mu      sync.Mutex
	gets    int
	second  chan struct{}
	holdFor time.Duration
}

func (h *heldBlob) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, h.path) {
		return h.counter.RoundTrip(req)
	}
	h.mu.Lock()
	h.gets++
	n := h.gets
	h.mu.Unlock()
	switch n {
	case 1:
		select {
		case <-h.second:
		case <-time.After(h.holdFor):
		case <-req.Context().Done():
		}
	case 2:
		close(h.second)
	}
	return h.counter.RoundTrip(req)
}

// Two platforms' images sharing a base layer, pulled into one store at
// the same moment (each --platform's builder loads its base on its own):
// the shared blob is downloaded once, the second pull waiting for the
// first and finding it stored.
func TestPullSharedBlobOnce(t *testing.T) {
	reg := registrytest.Start(t)
	amd, arm := ociImage(t, "base", "amd64"), ociImage(t, "base", "arm64")
	write(t, reg.Ref("app:amd64"), amd, nil)
	write(t, reg.Ref("app:arm64"), arm, nil)
	layers, err := amd.Layers()
	if err != nil {
		t.Fatal(err)
	}
	shared, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(t)
	rt := &heldBlob{counter: newCounter(), path: "/blobs/" + shared.String(), second: make(chan struct{}), holdFor: time.Second}
	var mu sync.Mutex
	skipped := 0
	progress := WithProgress(func(p Progress) {
		if p.Skipped && p.Digest.String() == shared.String() {
			mu.Lock()
			skipped++
			mu.Unlock()
		}
	})
	g, ctx := errgroup.WithContext(context.Background())
	for _, tag := range []string{"amd64", "arm64"} {
		g.Go(func() error {
			_, err := Pull(ctx, reg.Ref("app:"+tag), store, PullMissing, WithTransport(rt), progress)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if rt.gets != 1 {
		t.Errorf("the shared blob was downloaded %d times, want once", rt.gets)
	}
	if skipped != 1 {
		t.Errorf("the shared blob was reported skipped %d times, want once: by the pull that waited", skipped)
	}
	if n := rt.get("GET blob"); n != 5 { // two configs, the shared layer, one layer each
		t.Errorf("%d blob GETs, want 5", n)
	}
}
