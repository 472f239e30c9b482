package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

func TestParseReference(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		in, want, scheme string // scheme: https for TLS only, http for plain HTTP allowed
		opts             []Option
	}{
		{in: "alpine", want: "docker.io/library/alpine:latest", scheme: "https"},
		{in: "alpine:3.20", want: "docker.io/library/alpine:3.20", scheme: "https"},
		{in: "docker.io/alpine", want: "docker.io/library/alpine:latest", scheme: "https"},
		{in: "docker://library/alpine:3", want: "docker.io/library/alpine:3", scheme: "https"},
		{in: "user/app", want: "docker.io/user/app:latest", scheme: "https"},
		{in: "alpine@" + d, want: "docker.io/library/alpine@" + d, scheme: "https"},
		{in: "alpine:3@" + d, want: "docker.io/library/alpine@" + d, scheme: "https"},
		{in: "ghcr.io/org/app:v1", want: "ghcr.io/org/app:v1", scheme: "https"},
		{in: "localhost/app", want: "localhost/app:latest", scheme: "http"},
		{in: "localhost:5000/app", want: "localhost:5000/app:latest", scheme: "http"},
		{in: "127.0.0.1:5000/a/b:c", want: "127.0.0.1:5000/a/b:c", scheme: "http"},
		{in: "[::1]:5000/app", want: "[::1]:5000/app:latest", scheme: "http"},
		{in: "10.0.0.5:5000/app", want: "10.0.0.5:5000/app:latest", scheme: "https"},
		{in: "10.0.0.5:5000/app", want: "10.0.0.5:5000/app:latest", scheme: "http", opts: []Option{WithInsecure("10.0.0.5:5000")}},
		{in: "reg.lan:5000/app", want: "reg.lan:5000/app:latest", scheme: "http", opts: []Option{WithInsecure("reg.lan")}},
		{in: "reg.lan:5000/app", want: "reg.lan:5000/app:latest", scheme: "https", opts: []Option{WithInsecure("reg.lan:6000")}},
	} {
		ref, err := ParseReference(tc.in, tc.opts...)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := Canonical(ref); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.in, got, tc.want)
		}
		scheme := "https"
		if makeOptions(tc.opts).plainHTTP(ref.Context().RegistryStr()) {
			scheme = "http"
		}
		if scheme != tc.scheme {
			t.Errorf("%s: scheme %s, want %s", tc.in, scheme, tc.scheme)
		}
	}
	for _, bad := range []string{"Alpine", "alpine:", "alpine@sha256:12", "a b", ""} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("%q: no error", bad)
		} else if !strings.HasPrefix(err.Error(), "invalid image reference") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// refuser records the URLs asked for and refuses every connection.
type refuser struct {
	mu   sync.Mutex
	urls []string
}

func (r *refuser) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
}

// A registry on a private address gets TLS only, unless declared
// insecure; ggcr alone would also try plain HTTP.
func TestPlainHTTPOnlyWhenDeclared(t *testing.T) {
	ctx := context.Background()
	rt := &refuser{}
	_, err := Pull(ctx, "10.1.2.3:5000/app:1", openStore(t), PullMissing, WithTransport(rt))
	if want := "pull 10.1.2.3:5000/app:1: cannot reach registry 10.1.2.3:5000: connection refused"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	for _, u := range rt.urls {
		if strings.HasPrefix(u, "http:") {
			t.Errorf("plain HTTP to an undeclared registry: %s", u)
		}
	}

	rt = &refuser{}
	_, _ = Pull(ctx, "10.1.2.3:5000/app:1", openStore(t), PullMissing, WithTransport(rt), WithInsecure("10.1.2.3:5000"))
	plain := false
	for _, u := range rt.urls {
		plain = plain || strings.HasPrefix(u, "http:")
	}
	if !plain {
		t.Errorf("no plain HTTP to a declared registry: %v", rt.urls)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	srv := httptest.NewUnstartedServer(ggcrregistry.New())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	_, err := Pull(context.Background(), host+"/app:1", openStore(t), PullMissing)
	want := fmt.Sprintf("pull %s/app:1: the TLS certificate of %s is signed by an unknown authority", host, host)
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if errors.Is(err, ErrUnreachable) {
		t.Error("a TLS failure is not unreachable")
	}
}

// A plain-HTTP registry that was not declared insecure is told so; once
// declared, it works. 127.0.0.2 is a loopback address that is not
// 127.0.0.1, so it needs TLS like any other.
func TestPlainHTTPRegistryNotDeclared(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	host := l.Addr().String()
	write(t, host+"/app:1", ociImage(t, "a"), nil)

	_, err = Pull(context.Background(), host+"/app:1", openStore(t), PullMissing)
	want := fmt.Sprintf("pull %s/app:1: %s does not speak TLS (if it serves plain HTTP, declare it with --insecure-registry %s)", host, host, host)
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if _, err := Pull(context.Background(), host+"/app:1", openStore(t), PullMissing, WithInsecure("127.0.0.2")); err != nil {
		t.Error(err)
	}
}
