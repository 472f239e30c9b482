package registrytest

import (
	"net/http"
	"sync"
)

// Recorder is an http.RoundTripper, for a client's WithTransport, that
// keeps the method and path of every request it passes on to Inner (to
// http.DefaultTransport when nil): "HEAD /v2/app/manifests/1".
type Recorder struct {
	Inner http.RoundTripper
	mu    sync.Mutex
	reqs  []string
}

// RoundTrip records req and passes it on.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	inner := r.Inner
	if inner == nil {
		inner = http.DefaultTransport
	}
	return inner.RoundTrip(req)
}

// Requests are the requests recorded so far, in order.
func (r *Recorder) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}
