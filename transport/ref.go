package transport

import (
	"errors"
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
// "oci:DIR[:REF]", "docker-archive:PATH[:NAME:TAG]", or a registry
// reference, "docker://REF" or plainly "debian:12". As in skopeo, the
// path ends at the first colon.
type Ref struct {
	Transport string
	// Path is the file or directory of a local image, or the reference
	// of a registry image as it was written (docker:// left out).
	Path string
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

// Parse reads an image reference by the rules of FROM: a local image in
// skopeo's transport syntax (oci-archive:PATH[:REF], oci:DIR[:REF],
// docker-archive:PATH[:NAME:TAG]), else a registry reference ("alpine",
// "docker://..."), even when it looks like a path. A registry reference
// is not checked here: Load and Inspect tell what is wrong with it, and
// Check does beforehand.
func Parse(s string) (Ref, error) {
	ref, ok, err := parseTransport(s)
	if !ok && err == nil {
		ref = Ref{Transport: Docker, Path: s}
	}
	return ref, err
}

// ParseRefOrPath reads an image named on the command line, as mybuild
// run and inspect take it: a transport reference, as Parse reads it; else
// a path, as -t takes one: a name that starts with "/" or ".", ends in
// ".tar", or names an existing file or directory. A directory is an OCI
// layout, any other path an OCI archive. What is left, such as
// "debian:12", is a registry reference.
func ParseRefOrPath(s string) (Ref, error) {
	if ref, ok, err := parseTransport(s); ok || err != nil {
		return ref, err
	}
	fi, statErr := os.Stat(s)
	if statErr != nil && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".tar") {
		return Ref{Transport: Docker, Path: s}, nil
	}
	if statErr == nil && fi.IsDir() {
		return Ref{Transport: OCILayout, Path: s}, nil
	}
	return Ref{Transport: OCIArchive, Path: s}, nil
}

// errUnknownDestination refuses a destination that looks like a registry
// reference without docker://, or a transport mybuild does not know.
var errUnknownDestination = errors.New("unknown destination; want PATH.tar, oci-archive:PATH, oci:DIR, docker-archive:PATH or docker://REF")

// ParseDestination reads where an image is to be saved, as mybuild -t
// takes it: a transport reference, else a plain path, saved in the
// transport plain (OCIArchive or DockerArchive). A registry reference
// needs docker://: "app:1" is refused, when "out/app:1" is a path. The
// destination is checked as Save would check it (see Check), so that a
// CLI refuses a bad one before building.
func ParseDestination(s, plain string) (Ref, error) {
	ref, ok, err := parseTransport(s)
	if err != nil {
		return Ref{}, err
	}
	if !ok {
		if strings.Contains(s, ":") && !strings.Contains(s, "/") {
			return Ref{}, errUnknownDestination
		}
		ref = Ref{Transport: plain, Path: s}
	}
	if err := CheckDestination(ref); err != nil {
		return Ref{}, err
	}
	return ref, nil
}

// CheckDestination checks, without writing anything, what can be known
// of ref as a place Save is to write: its transport, the syntax of a
// registry reference, the name a docker-archive tags its image with. A
// CLI that builds a Ref itself (from buildx's --output) checks it so.
func CheckDestination(ref Ref) error {
	t, err := lookup(ref)
	if err != nil {
		return err
	}
	return t.check(ref, true)
}

// parseTransport parses a reference that names its transport. ok is
// false when s names none (a bare registry reference such as "debian:12",
// for instance).
func parseTransport(s string) (ref Ref, ok bool, err error) {
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
