package image

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// dockerTag is a NAME[:TAG] image reference, normalised as Docker does
// (github.com/distribution/reference): "busybox" is
// docker.io/library/busybox:latest.
type dockerTag struct {
	domain string // "docker.io" for Docker Hub
	path   string // "library/busybox"
	tag    string
}

// Docker's reference grammar, without digests, which a tag in an archive
// cannot carry. Compiled at first use: every RUN step's sandbox init
// starts this binary again, and does not need them.
var (
	domainRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	})
	pathRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	})
	tagRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\w][\w.-]{0,127}$`) })
	hex64RE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-f0-9]{64}$`) })
)

const (
	dockerHub       = "docker.io"
	dockerHubLegacy = "index.docker.io"
	officialPrefix  = "library/"
	maxNameLength   = 255
)

// parseDockerTag parses NAME[:TAG]; the tag defaults to "latest".
func parseDockerTag(s string) (dockerTag, error) {
	if strings.Contains(s, "@") {
		return dockerTag{}, fmt.Errorf("invalid image name %q: a digest cannot name an image in an archive", s)
	}
	if hex64RE().MatchString(s) {
		return dockerTag{}, fmt.Errorf("invalid image name %q: 64-byte hexadecimal strings are image IDs", s)
	}
	name, tag := s, "latest"
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		name, tag = s[:i], s[i+1:]
	}
	var t dockerTag
	t.tag = tag
	// As in Docker: the first component is a registry when it looks like
	// a host name (a dot, a port, "localhost", or upper case).
	if i := strings.Index(name, "/"); i >= 0 && (strings.ContainsAny(name[:i], ".:") || name[:i] == "localhost" || strings.ToLower(name[:i]) != name[:i]) {
		t.domain, t.path = name[:i], name[i+1:]
	} else {
		t.domain, t.path = dockerHub, name
	}
	if t.domain == dockerHubLegacy {
		t.domain = dockerHub
	}
	if t.domain == dockerHub && !strings.Contains(t.path, "/") {
		t.path = officialPrefix + t.path
	}
	switch {
	case !domainRE().MatchString(t.domain):
		return dockerTag{}, fmt.Errorf("invalid image name %q: bad registry %q", s, t.domain)
	case strings.ToLower(t.path) != t.path:
		return dockerTag{}, fmt.Errorf("invalid image name %q: repository name must be lowercase", s)
	case !pathRE().MatchString(t.path):
		return dockerTag{}, fmt.Errorf("invalid image name %q", s)
	case len(t.domain)+1+len(t.path) > maxNameLength:
		return dockerTag{}, fmt.Errorf("invalid image name %q: longer than %d characters", s, maxNameLength)
	case !tagRE().MatchString(t.tag):
		return dockerTag{}, fmt.Errorf("invalid tag %q in image name %q", t.tag, s)
	}
	return t, nil
}

// String is the full form: docker.io/library/busybox:latest.
func (t dockerTag) String() string {
	return t.domain + "/" + t.path + ":" + t.tag
}

// familiarName is the repository in Docker's short form: busybox,
// user/app, ghcr.io/user/app.
func (t dockerTag) familiarName() string {
	if t.domain != dockerHub {
		return t.domain + "/" + t.path
	}
	if rest, ok := strings.CutPrefix(t.path, officialPrefix); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return t.path
}

// familiar is the short form Docker writes in RepoTags: busybox:latest.
func (t dockerTag) familiar() string {
	return t.familiarName() + ":" + t.tag
}

// familiarTag normalises NAME[:TAG] to Docker's short form.
func familiarTag(s string) (string, error) {
	t, err := parseDockerTag(s)
	if err != nil {
		return "", err
	}
	return t.familiar(), nil
}
