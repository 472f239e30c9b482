package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/mybuild/mybuild/image"
)

// Kinds of failure, for errors.Is.
var (
	// ErrUnreachable: no answer from the registry (refused, no such host,
	// timeout, reset).
	ErrUnreachable = errors.New("registry unreachable")
	// ErrUnauthorized: the registry refused the credentials (401) or the
	// access (403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: no such tag, manifest, repository or blob.
	ErrNotFound = errors.New("not found")
	// ErrNoPlatform: the index has no image for the platform. It is
	// image.ErrNoPlatform, which local images fail with too.
	ErrNoPlatform = image.ErrNoPlatform
)

// Error is a failed registry operation, told in one line:
// "pull docker.io/library/alpine:nope: tag not found". The cause from the
// registry client stays reachable with errors.As and errors.Is, but out
// of the message.
type Error struct {
	Op   string // pull, push, get cache entry, put cache entry
	Ref  string // the normalised reference
	Msg  string
	Kind error // ErrUnreachable, ErrUnauthorized, ErrNotFound, ErrNoPlatform or nil
	Err  error // the cause, or nil
}

func (e *Error) Error() string { return e.Op + " " + e.Ref + ": " + e.Msg }

// Unwrap gives the kind and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// opError builds the one-line error of op on ref, or passes err through
// if it is one already.
func opError(op string, ref name.Reference, o *options, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	f := describe(err, ref.Context(), o)
	return &Error{Op: op, Ref: Canonical(ref), Msg: f.msg, Kind: f.kind, Err: err}
}

// failure is an error of this package that already says what happened in
// the words it should be told; describe keeps them.
type failure struct {
	kind error
	msg  string
}

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return f.kind }

func fail(kind error, format string, args ...any) error {
	return &failure{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// describe turns an error of ggcr or net/http into a kind and a short
// message.
func describe(err error, repo name.Repository, o *options) *failure {
	host := registryName(repo.RegistryStr())
	var (
		f       *failure
		terr    *transport.Error
		dnsErr  *net.DNSError
		netErr  net.Error
		unknown x509.UnknownAuthorityError
		badHost x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &f):
		// Told in this package's words, with its context.
		return &failure{f.kind, err.Error()}
	case errors.Is(err, context.Canceled):
		return &failure{nil, "canceled"}
	case errors.Is(err, context.DeadlineExceeded):
		return &failure{nil, "timed out"}
	case errors.As(err, &unknown):
		return &failure{nil, fmt.Sprintf("the TLS certificate of %s is signed by an unknown authority", host)}
	case errors.As(err, &badHost):
		return &failure{nil, fmt.Sprintf("the TLS certificate of %s is not valid for it: %v", host, badHost.Error())}
	case errors.As(err, &invalid):
		return &failure{nil, fmt.Sprintf("the TLS certificate of %s is not valid: %v", host, invalid.Error())}
	case errors.As(err, &terr):
		// After the TLS errors: a TLS registry on a loopback address
		// answers the plain-HTTP attempt with 400.
		return describeStatus(terr, repo, o)
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &failure{nil, fmt.Sprintf("%s does not speak TLS (if it serves plain HTTP, declare it with --insecure-registry %s)", host, repo.RegistryStr())}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &failure{ErrUnreachable, unreachable(host, "connection refused")}
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return &failure{ErrUnreachable, unreachable(host, "no such host")}
		}
		return &failure{ErrUnreachable, unreachable(host, "name lookup failed: "+dnsErr.Err)}
	case errors.Is(err, syscall.ENETUNREACH):
		return &failure{ErrUnreachable, unreachable(host, "network is unreachable")}
	case errors.Is(err, syscall.EHOSTUNREACH):
		return &failure{ErrUnreachable, unreachable(host, "no route to host")}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return &failure{ErrUnreachable, unreachable(host, "connection reset")}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &failure{ErrUnreachable, unreachable(host, "connection closed")}
	case errors.As(err, &netErr) && netErr.Timeout():
		return &failure{ErrUnreachable, unreachable(host, "timed out")}
	case errors.Is(err, errPlainHTTP):
		return &failure{nil, fmt.Sprintf("%s is not declared insecure, and plain HTTP is only used for declared registries (--insecure-registry %s)", host, repo.RegistryStr())}
	case isNetwork(err):
		return &failure{ErrUnreachable, unreachable(host, innermost(err).Error())}
	}
	return &failure{nil, err.Error()}
}

func unreachable(host, why string) string {
	return fmt.Sprintf("cannot reach registry %s: %s", host, why)
}

func isNetwork(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// innermost is the last error of a chain of single wraps: "connection
// refused" rather than `Get "https://...": dial tcp ...: connection refused`.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// describeStatus reads an error answer of the registry.
func describeStatus(terr *transport.Error, repo name.Repository, o *options) *failure {
	host := registryName(repo.RegistryStr())
	codes := map[transport.ErrorCode]bool{}
	for _, d := range terr.Errors {
		codes[d.Code] = true
	}
	path := ""
	if terr.Request != nil {
		path = terr.Request.URL.Path
	}
	switch {
	case terr.StatusCode == http.StatusUnauthorized || codes[transport.UnauthorizedErrorCode]:
		return &failure{ErrUnauthorized, "unauthorized (" + credentialsHint(repo, o) + ")"}
	case terr.StatusCode == http.StatusForbidden || codes[transport.DeniedErrorCode]:
		return &failure{ErrUnauthorized, fmt.Sprintf("forbidden (the credentials for %s do not allow this on %s)", host, repo.RepositoryStr())}
	case codes[transport.NameUnknownErrorCode]:
		return &failure{ErrNotFound, "repository not found"}
	case codes[transport.ManifestUnknownErrorCode],
		terr.StatusCode == http.StatusNotFound && strings.Contains(path, "/manifests/"):
		if strings.Contains(path, "/manifests/sha256:") {
			return &failure{ErrNotFound, "manifest not found"}
		}
		return &failure{ErrNotFound, "tag not found"}
	case codes[transport.BlobUnknownErrorCode],
		terr.StatusCode == http.StatusNotFound && strings.Contains(path, "/blobs/"):
		return &failure{ErrNotFound, "blob " + path[strings.LastIndex(path, "/")+1:] + " not found"}
	case terr.StatusCode == http.StatusNotFound:
		return &failure{ErrNotFound, "not found"}
	case terr.StatusCode == http.StatusTooManyRequests || codes[transport.TooManyRequestsErrorCode]:
		return &failure{nil, fmt.Sprintf("too many requests: %s is rate limiting", host)}
	case terr.StatusCode >= 500:
		// Down for now, as far as a build can tell: PullMissing falls back.
		return &failure{ErrUnreachable, unreachable(host, fmt.Sprintf("it answered %d %s", terr.StatusCode, http.StatusText(terr.StatusCode)))}
	}
	msg := fmt.Sprintf("%s answered %d %s", host, terr.StatusCode, http.StatusText(terr.StatusCode))
	if len(terr.Errors) > 0 {
		d := terr.Errors[0]
		msg += ": " + strings.ToLower(string(d.Code))
		if d.Message != "" {
			msg += ": " + d.Message
		}
	}
	return &failure{nil, msg}
}

// credentialsHint says whether credentials were sent, and where they are
// kept.
func credentialsHint(repo name.Repository, o *options) string {
	host := registryName(repo.RegistryStr())
	file := o.credentialsFile()
	if o.resolveAuth(repo) == authn.Anonymous {
		if file == "" {
			return "no credentials for " + host
		}
		return "no credentials for " + host + " in " + file
	}
	if file == "" {
		return "check the credentials for " + host
	}
	return "check the credentials for " + host + " in " + file
}
