package main

import (
	"os"
	"strings"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/transport"
)

// parseBuildContexts reads --build-context values, NAME=VALUE, VALUE as
// buildx takes it: a directory, docker-image://REF (a registry image) or
// oci-layout://DIR[:TAG] (an image of an OCI layout, TAG its ref name,
// default latest). Git and HTTP contexts are not supported yet.
func parseBuildContexts(values []string) (map[string]build.NamedContext, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]build.NamedContext{}
	for _, v := range values {
		name, value, ok := strings.Cut(v, "=")
		if !ok || name == "" || value == "" {
			return nil, usagef("--build-context %s: want NAME=VALUE", v)
		}
		if _, dup := out[name]; dup {
			return nil, usagef("--build-context %s: %s is given twice", v, name)
		}
		nc, err := parseNamedContext(value)
		if err != nil {
			return nil, usagef("--build-context %s: %v", v, err)
		}
		out[name] = nc
	}
	return out, nil
}

func parseNamedContext(value string) (build.NamedContext, error) {
	var nc build.NamedContext
	if ref, ok := strings.CutPrefix(value, "docker-image://"); ok {
		nc.Image = transport.Ref{Transport: transport.Docker, Path: ref}
		return nc, transport.Check(nc.Image)
	}
	if layout, ok := strings.CutPrefix(value, "oci-layout://"); ok {
		if strings.Contains(layout, "@") {
			return nc, usagef("oci-layout:// with a digest is not supported yet: name the image with :TAG")
		}
		dir, tag, _ := strings.Cut(layout, ":")
		if dir == "" {
			return nc, usagef("missing DIR in oci-layout://DIR[:TAG]")
		}
		nc.Image = transport.Ref{Transport: transport.OCILayout, Path: dir, Name: tag}
		return nc, nil
	}
	for _, scheme := range []string{"https://", "http://", "git://", "git@", "target:"} {
		if strings.HasPrefix(value, scheme) {
			return nc, usagef("%s contexts are not supported yet (want a directory, docker-image://REF or oci-layout://DIR[:TAG])", strings.TrimSuffix(scheme, "://"))
		}
	}
	fi, err := os.Stat(value)
	if err != nil {
		return nc, err
	}
	if !fi.IsDir() {
		return nc, usagef("%s is not a directory", value)
	}
	nc.Dir = value
	return nc, nil
}
