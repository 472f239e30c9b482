package main

import (
	"encoding/csv"
	"fmt"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/transport"
)

// loadRefused is the one line --load and --output type=docker without a
// dest get.
const loadRefused = "there is no Docker daemon to load into: write a docker-archive with -t docker-archive:PATH[:NAME:TAG] " +
	"(then docker load -i PATH), an OCI archive with -t PATH.tar, or push with -t NAME --push"

// destinations are where a build goes: images written or pushed, and
// copies of its root filesystem.
type destinations struct {
	outputs []transport.Ref
	exports []build.Export
	// names are the image names of -t and --output type=image, as buildx
	// reports them in its metadata (image.name).
	names []string
	// stdout, when set, is the file an --output with dest=- is written
	// to, which goes to stdout once the build is done (see toStdout).
	stdout string
	// compression is what the outputs' compression= asks for; nil: none.
	compression *outputCompression
}

// destinations reads -t, --output, --push and --load. A -t with a
// transport, or a path ending in .tar, is a destination, as it always
// was in mybuild; any other -t is an image name, as in buildx, which
// --push pushes.
func (o *buildOptions) destinations() (*destinations, error) {
	if o.load {
		return nil, usagef("--load: %s", loadRefused)
	}
	plain, err := plainTransport(o.format)
	if err != nil {
		return nil, err
	}
	d := &destinations{}
	var names []string // of -t
	for _, t := range o.tags {
		if isDestination(t) {
			ref, err := transport.ParseDestination(t, plain)
			if err != nil {
				return nil, usagef("-t %s: %v", t, err)
			}
			d.add(ref)
			continue
		}
		if err := checkImageName(t); err != nil {
			return nil, usagef("-t %s: %v (a file is written with -t PATH.tar, oci-archive:PATH or oci:DIR)", t, err)
		}
		names = append(names, t)
	}
	d.names = append(d.names, names...)
	var push []string
	if o.push {
		if len(names) == 0 {
			return nil, usagef("--push: no image name to push to: name the image with -t [REGISTRY/]REPO[:TAG]")
		}
		push = names
	}
	for _, v := range o.outputs {
		p, err := d.parseOutput(v, names)
		if err != nil {
			return nil, err
		}
		push = append(push, p...)
	}
	for _, n := range push {
		d.add(transport.Ref{Transport: transport.Docker, Path: n})
	}
	return d, nil
}

// add adds an output, once.
func (d *destinations) add(ref transport.Ref) {
	if !slices.Contains(d.outputs, ref) {
		d.outputs = append(d.outputs, ref)
	}
	if ref.Transport == transport.Docker && !slices.Contains(d.names, ref.Path) {
		d.names = append(d.names, ref.Path)
	}
}

// checkImageName checks an image name as Docker's grammar has it
// ([REGISTRY/]REPO[:TAG], no digest), stricter than a registry reference
// (which takes "/some/dir" for one), and as the push will take it.
func checkImageName(n string) error {
	if err := image.CheckDockerName(n); err != nil {
		return err
	}
	_, err := registry.ParseReference(n)
	return err
}

// isDestination tells a -t that says where to write from an image name:
// it names a transport, or is a path ending in .tar.
func isDestination(t string) bool {
	for _, prefix := range []string{transport.OCIArchive + ":", transport.OCILayout + ":", transport.DockerArchive + ":", transport.Docker + "://"} {
		if strings.HasPrefix(t, prefix) {
			return true
		}
	}
	return strings.HasSuffix(t, ".tar")
}

// plainTransport is the transport of a -t PATH.tar: --format's.
func plainTransport(format string) (string, error) {
	switch format {
	case "", "oci":
		return transport.OCIArchive, nil
	case "docker":
		return transport.DockerArchive, nil
	}
	return "", usagef("--format %s: unknown format (want oci or docker)", format)
}

// nothingWritten is the warning of a build whose image goes nowhere, or
// "".
func (d *destinations) nothingWritten() string {
	if len(d.outputs) > 0 || len(d.exports) > 0 {
		return ""
	}
	if len(d.names) > 0 {
		return fmt.Sprintf("-t %s names the image, and nothing writes it: the result stays in the build cache only. "+
			"Push it with --push, or write it with -t PATH.tar, -t oci:DIR or --output", strings.Join(d.names, ", -t "))
	}
	return "no output specified: the result stays in the build cache only. " +
		"Write it with -t PATH.tar, -t oci:DIR or --output, or push it with -t NAME --push"
}

// imageKeys are the keys of BuildKit's image exporters that mybuild
// has: the layers' compression (the build's: see outputCompression), and
// OCI media types, which mybuild always writes.
var imageKeys = []string{"compression", "compression-level", "force-compression", "oci-mediatypes"}

// outputKeys are the keys each --output type takes.
var outputKeys = map[string][]string{
	"local": {"dest"},
	"tar":   {"dest"},
	"oci":   append([]string{"dest", "name", "tar"}, imageKeys...),
	// A docker-archive's layers are uncompressed, whatever is asked.
	"docker":    {"dest", "name", "oci-mediatypes"},
	"image":     append([]string{"name", "push"}, imageKeys...),
	"registry":  append([]string{"name", "push"}, imageKeys...),
	"cacheonly": {},
}

// parseOutput reads one --output: buildx's CSV of key=value pairs, or a
// bare DIR for type=local. oci and docker are spellings of -t's
// oci-archive: (oci: with tar=false) and docker-archive:; image and
// registry name the image, as -t NAME does, and push it (registry, or
// push=true). names are -t's, which name= defaults to. It returns the
// names to push.
func (d *destinations) parseOutput(v string, names []string) ([]string, error) {
	attrs, err := outputAttrs(v)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return usagef("--output %s: %s", v, fmt.Sprintf(format, args...))
	}
	typ, dest := attrs["type"], attrs["dest"]
	if err := d.imageAttrs(v, attrs); err != nil {
		return nil, err
	}
	if dest == "-" {
		if dest, err = d.stdoutFile(typ); err != nil {
			return nil, bad("%v", err)
		}
		attrs["dest"] = dest
	}
	switch typ {
	case "local", "tar":
		if dest == "" {
			return nil, bad("missing dest=")
		}
		kind := build.ExportDir
		if typ == "tar" {
			kind = build.ExportTar
		}
		d.exports = append(d.exports, build.Export{Kind: kind, Dest: dest})
	case "oci", "docker":
		return nil, d.archiveOutput(v, attrs, names)
	case "image", "registry":
		out := names
		if n := attrs["name"]; n != "" {
			out = strings.Split(n, ",")
		}
		for _, n := range out {
			if err := checkImageName(n); err != nil {
				return nil, bad("%v", err)
			}
		}
		d.names = append(d.names, out...)
		if typ == "registry" || attrs["push"] == "true" {
			if len(out) == 0 {
				return nil, bad("no image name to push to: give name= or -t NAME")
			}
			return out, nil
		}
	}
	return nil, nil
}

// archiveOutput adds an --output of type oci or docker: an OCI archive
// (or layout, with tar=false) or a docker-archive, at dest.
func (d *destinations) archiveOutput(v string, attrs map[string]string, names []string) error {
	ref := transport.Ref{Transport: transport.OCIArchive, Path: attrs["dest"], Name: attrs["name"]}
	switch {
	case attrs["type"] == "docker":
		if ref.Path == "" {
			return usagef("--output %s: %s", v, loadRefused)
		}
		ref.Transport = transport.DockerArchive
		if ref.Name == "" && len(names) > 0 {
			ref.Name = names[0]
		}
	case ref.Path == "":
		return usagef("--output %s: missing dest=", v)
	case attrs["tar"] == "false":
		ref.Transport = transport.OCILayout
	}
	if err := transport.CheckDestination(ref); err != nil {
		return usagef("--output %s: %v", v, err)
	}
	d.add(ref)
	return nil
}

// outputAttrs splits an --output value into its keys, checked against
// the keys of its type.
func outputAttrs(v string) (map[string]string, error) {
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return nil, usagef("--output %s: %v", v, err)
	}
	if len(fields) == 1 && !strings.Contains(fields[0], "=") {
		typ := "local"
		if fields[0] == "-" {
			typ = "tar" // buildx's -o -: the root filesystem, a tar on stdout
		}
		fields = []string{"type=" + typ, "dest=" + fields[0]}
	}
	attrs := map[string]string{}
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usagef("--output %s: %q is not key=value", v, f)
		}
		attrs[strings.TrimSpace(k)] = val
	}
	typ := attrs["type"]
	keys, ok := outputKeys[typ]
	switch {
	case typ == "":
		return nil, usagef("--output %s: missing type= (local, tar, oci, docker, image or registry)", v)
	case !ok:
		return nil, usagef("--output %s: unknown type %q (want local, tar, oci, docker, image or registry)", v, typ)
	}
	for k := range attrs {
		if k != "type" && !slices.Contains(keys, k) {
			hint := ""
			if k == "ref" {
				hint = "; ref= is --cache-to's, an image is named with name="
			}
			return nil, usagef("--output %s: type=%s takes no %s= (it takes %s%s)", v, typ, k, strings.Join(keys, ", "), hint)
		}
	}
	return attrs, nil
}
