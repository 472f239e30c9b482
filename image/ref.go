package image

import (
	"fmt"
	"os"
	"strings"
)

// Transports, named as skopeo and buildah name them.
const (
	OCIArchive    = "oci-archive"
	OCILayout     = "oci"
	DockerArchive = "docker-archive"
	Docker        = "docker"
)

// Ref names an image in a transport: "oci-archive:PATH[:REF]",
// "oci:DIR[:REF]", "docker-archive:PATH[:NAME:TAG]". As in skopeo, the path
// ends at the first colon.
type Ref struct {
	Transport string
	Path      string
	// Name selects one image of an archive or layout: the OCI ref name
	// (org.opencontainers.image.ref.name), or a docker-archive repo tag.
	Name string
}

func (r Ref) String() string {
	if r.Transport == Docker {
		return Docker + "://" + r.Path
	}
	s := r.Transport + ":" + r.Path
	if r.Name != "" {
		s += ":" + r.Name
	}
	return s
}

// ParseRef parses a transport reference. ok is false when s names no
// transport (a bare registry reference such as "debian:12", for instance);
// "docker://REF" is a registry reference in the Docker transport.
func ParseRef(s string) (ref Ref, ok bool, err error) {
	if rest, found := strings.CutPrefix(s, Docker+"://"); found {
		if rest == "" {
			return Ref{}, true, fmt.Errorf("%s: missing image reference", s)
		}
		return Ref{Transport: Docker, Path: rest}, true, nil
	}
	transport, rest, found := strings.Cut(s, ":")
	if !found {
		return Ref{}, false, nil
	}
	switch transport {
	case OCIArchive, OCILayout, DockerArchive:
	default:
		return Ref{}, false, nil
	}
	path, name, _ := strings.Cut(rest, ":")
	if path == "" {
		return Ref{}, true, fmt.Errorf("%s: missing path in %q", transport, s)
	}
	return Ref{Transport: transport, Path: path, Name: name}, true, nil
}

// ParseRefOrPath reads an image named on the command line, as mybuild run
// and inspect take it: a transport reference (ParseRef); else a path, as
// -t takes one: a name that starts with "/" or ".", ends in ".tar", or
// names an existing file or directory. A directory is an OCI layout, any
// other path an OCI archive. ok is false for what is left, a registry
// reference such as "debian:12".
func ParseRefOrPath(s string) (ref Ref, ok bool, err error) {
	if ref, ok, err = ParseRef(s); ok || err != nil {
		return ref, ok, err
	}
	fi, statErr := os.Stat(s)
	if statErr != nil && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".tar") {
		return Ref{}, false, nil
	}
	if statErr == nil && fi.IsDir() {
		return Ref{Transport: OCILayout, Path: s}, true, nil
	}
	return Ref{Transport: OCIArchive, Path: s}, true, nil
}
