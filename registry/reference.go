package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ParseReference parses an image reference and normalises it as Docker
// does: "alpine" is docker.io/library/alpine:latest, and NAME[:TAG][@DIGEST]
// pins the digest (the tag is then only a comment). A "docker://" prefix
// is allowed. localhost, 127.0.0.1 and ::1 (any port) and the WithInsecure
// registries are reached over plain HTTP; every other registry over TLS.
func ParseReference(s string, opts ...Option) (name.Reference, error) {
	return parseReference(s, makeOptions(opts))
}

func parseReference(s string, o *options) (name.Reference, error) {
	s = strings.TrimPrefix(s, "docker://")
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, badName(err))
	}
	if o.plainHTTP(ref.Context().RegistryStr()) {
		if ref, err = name.ParseReference(s, name.Insecure); err != nil {
			return nil, fmt.Errorf("invalid image reference %q: %w", s, badName(err))
		}
	}
	return ref, nil
}

func parseRepository(s string, o *options) (name.Repository, error) {
	s = strings.TrimPrefix(s, "docker://")
	repo, err := name.NewRepository(s)
	if err != nil {
		return name.Repository{}, fmt.Errorf("invalid repository %q: %w", s, badName(err))
	}
	if o.plainHTTP(repo.RegistryStr()) {
		if repo, err = name.NewRepository(s, name.Insecure); err != nil {
			return name.Repository{}, fmt.Errorf("invalid repository %q: %w", s, badName(err))
		}
	}
	return repo, nil
}

// badName drops ggcr's "could not parse reference" prefix.
func badName(err error) error {
	var bad *name.ErrBadName
	if errors.As(err, &bad) {
		msg := bad.Error()
		if _, rest, ok := strings.Cut(msg, "could not parse reference: "); ok {
			return errors.New("not NAME[:TAG][@DIGEST]: " + rest)
		}
		return errors.New(msg)
	}
	return err
}

// Canonical renders ref in full, with Docker Hub as docker.io:
// docker.io/library/alpine:latest, localhost:5000/app@sha256:....
func Canonical(ref name.Reference) string {
	sep := ":"
	if _, ok := ref.(name.Digest); ok {
		sep = "@"
	}
	return canonicalRepo(ref.Context()) + sep + ref.Identifier()
}

func canonicalRepo(repo name.Repository) string {
	return registryName(repo.RegistryStr()) + "/" + repo.RepositoryStr()
}

// registryName is the registry as users write it.
func registryName(host string) string {
	if host == name.DefaultRegistry {
		return "docker.io"
	}
	return host
}

// plainHTTP reports whether the registry host[:port] is reached without
// TLS.
func (o *options) plainHTTP(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	switch host {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	for _, in := range o.insecure {
		in = strings.TrimSuffix(strings.TrimPrefix(in, "http://"), "/")
		if in == hostport {
			return true
		}
		if _, _, err := net.SplitHostPort(in); err != nil && strings.Trim(in, "[]") == host {
			return true // no port: any port
		}
	}
	return false
}

// errPlainHTTP refuses plain HTTP to a registry that was not declared
// insecure. ggcr on its own would also use plain HTTP for private
// addresses (10.x, 192.168.x, ...) and *.localhost names.
var errPlainHTTP = errors.New("plain HTTP is not allowed for this registry")

// tlsPolicy enforces the plain-HTTP rule of plainHTTP on every request,
// token requests and redirects included.
type tlsPolicy struct {
	inner http.RoundTripper
	o     *options
}

func (t *tlsPolicy) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !t.o.plainHTTP(req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), errPlainHTTP)
	}
	return t.inner.RoundTrip(req)
}
