package provenance

import (
	"net/url"
	"strings"

	"github.com/mybuild/mybuild/image"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImagePURL is the package URL of an image reference, as BuildKit names
// images in provenance (util/purl.RefToPURL): ref is normalised
// (docker.io/library/alpine:3.20, or NAME@sha256:…); Docker Hub's prefix
// is dropped, the tag is the version, a digest and the platform (unless
// zero) are qualifiers: pkg:docker/alpine@3.20?platform=linux%2Famd64.
func ImagePURL(ref string, p ocispec.Platform) string {
	name, version, dgst := ref, "", ""
	if i := strings.Index(name, "@"); i >= 0 {
		name, dgst = name[:i], name[i+1:]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, version = name[:i], name[i+1:]
	}
	if dgst == "" && version == "" {
		version = "latest"
	}
	name = strings.TrimPrefix(strings.TrimPrefix(name, "docker.io/"), "library/")
	out := "pkg:docker/" + name
	if version != "" {
		out += "@" + url.PathEscape(version)
	}
	var q []string
	if dgst != "" {
		q = append(q, "digest="+url.QueryEscape(dgst))
	}
	if p.OS != "" {
		q = append(q, "platform="+url.QueryEscape(image.FormatPlatform(p)))
	}
	if len(q) > 0 {
		out += "?" + strings.Join(q, "&")
	}
	return out
}
