package registry

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestDescribeStatus(t *testing.T) {
	isolateCredentials(t)
	repo, err := name.NewRepository("example.com/team/app")
	if err != nil {
		t.Fatal(err)
	}
	o := makeOptions(nil)
	status := func(code int, method, path string, codes ...transport.ErrorCode) error {
		e := &transport.Error{StatusCode: code, Request: &http.Request{Method: method, URL: &url.URL{Scheme: "https", Host: "example.com", Path: path}}}
		for _, c := range codes {
			e.Errors = append(e.Errors, transport.Diagnostic{Code: c, Message: "from the registry"})
		}
		return fmt.Errorf("GET: %w", e)
	}
	const blob = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		err  error
		kind error
		msg  string
	}{
		{status(401, "GET", "/v2/team/app/manifests/1", transport.UnauthorizedErrorCode), ErrUnauthorized,
			"unauthorized (no credentials for example.com in " + o.credentialsFile() + ")"},
		{status(403, "GET", "/v2/team/app/manifests/1", transport.DeniedErrorCode), ErrUnauthorized,
			"forbidden (the credentials for example.com do not allow this on team/app)"},
		{status(404, "HEAD", "/v2/team/app/manifests/1"), ErrNotFound, "tag not found"},
		{status(404, "GET", "/v2/team/app/manifests/"+blob, transport.ManifestUnknownErrorCode), ErrNotFound, "manifest not found"},
		{status(404, "GET", "/v2/team/app/manifests/1", transport.NameUnknownErrorCode), ErrNotFound, "repository not found"},
		{status(404, "GET", "/v2/team/app/blobs/"+blob), ErrNotFound, "blob " + blob + " not found"},
		{status(429, "GET", "/v2/team/app/manifests/1", transport.TooManyRequestsErrorCode), nil, "too many requests: example.com is rate limiting"},
		{status(503, "GET", "/v2/"), ErrUnreachable, "cannot reach registry example.com: it answered 503 Service Unavailable"},
		{status(400, "PUT", "/v2/team/app/manifests/1", transport.ManifestInvalidErrorCode), nil,
			"example.com answered 400 Bad Request: manifest_invalid: from the registry"},
	} {
		f := describe(tc.err, repo, o)
		if f.msg != tc.msg || f.kind != tc.kind {
			t.Errorf("%v:\ngot  %v, %q\nwant %v, %q", tc.err, f.kind, f.msg, tc.kind, tc.msg)
		}
	}
}

func TestErrorIs(t *testing.T) {
	cause := errors.New("cause")
	err := &Error{Op: "pull", Ref: "docker.io/library/alpine:nope", Msg: "tag not found", Kind: ErrNotFound, Err: cause}
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, cause) || errors.Is(err, ErrUnreachable) {
		t.Error("errors.Is")
	}
	if got := err.Error(); got != "pull docker.io/library/alpine:nope: tag not found" {
		t.Error(got)
	}
}
