package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/image"
)

// Each mistake with a new flag is a usage error: exit 2, one line saying
// what is wrong, and where the help is, before anything runs.
func TestNewFlagErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	other := "linux/s390x"
	if image.FormatPlatform(image.HostPlatform()) == other {
		other = "linux/amd64"
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--load"}, "--load: there is no Docker daemon to load into: write a docker-archive with -t docker-archive:PATH[:NAME:TAG] (then docker load -i PATH), an OCI archive with -t PATH.tar, or push with -t NAME --push"},
		{[]string{"-o", "type=docker"}, "--output type=docker: there is no Docker daemon to load into: "},
		{[]string{"-o", "type=bogus,dest=x"}, `--output type=bogus,dest=x: unknown type "bogus" (want local, tar, oci, docker, image or registry)`},
		{[]string{"-o", "dest=x"}, "--output dest=x: missing type= (local, tar, oci, docker, image or registry)"},
		{[]string{"-o", "type=local"}, "--output type=local: missing dest="},
		{[]string{"-o", "type=local,dest=x,name=y"}, "--output type=local,dest=x,name=y: type=local takes no name= (it takes dest)"},
		{[]string{"-o", "type=local,dest=-"}, "--output type=local,dest=-: type=local writes a directory, which cannot go to stdout: type=tar writes the same files as one tar"},
		{[]string{"-o", "type=oci,name=x"}, "--output type=oci,name=x: missing dest="},
		{[]string{"-o", "type=docker,dest=x.tar,name=Bad:Name:x"}, "--output type=docker,dest=x.tar,name=Bad:Name:x: "},
		{[]string{"-o", "type=registry"}, "--output type=registry: no image name to push to: give name= or -t NAME"},
		{[]string{"-o", "type=registry,ref=r/app"}, "--output type=registry,ref=r/app: type=registry takes no ref= (it takes name, push, compression, compression-level, force-compression, oci-mediatypes; ref= is --cache-to's, an image is named with name=)"},
		{[]string{"-o", "type=image,name=r/app,push-by-digest=true"}, "--output type=image,name=r/app,push-by-digest=true: type=image takes no push-by-digest= (it takes name, push, compression, "},
		{[]string{"-o", "type=image,compression=estargz"}, "--output type=image,compression=estargz: compression=estargz: want gzip, zstd or uncompressed"},
		{[]string{"-o", "type=image,compression=gzip,compression-level=10"}, "--output type=image,compression=gzip,compression-level=10: compression level 10 is out of range for gzip (1 to 9)"},
		{[]string{"-o", "type=image,compression-level=high"}, `--output type=image,compression-level=high: compression-level=high: strconv.Atoi: parsing "high": invalid syntax`},
		{[]string{"-o", "type=image,compression=zstd", "-o", "type=oci,dest=x.tar,compression=gzip"}, "--output type=oci,dest=x.tar,compression=gzip: mybuild compresses a build's layers one way for every output, and --output type=image,compression=zstd asks for another"},
		{[]string{"--compression", "gzip", "-o", "type=image,compression=zstd"}, "--output type=image,compression=zstd: mybuild compresses a build's layers one way for every output, and --compression gzip asks for another"},
		{[]string{"-o", "type=image,force-compression=true"}, "--output type=image,force-compression=true: force-compression=true is not supported: mybuild compresses the layers it makes, and keeps a base image's layers as they are"},
		{[]string{"-o", "type=docker,dest=x.tar,compression=zstd"}, "--output type=docker,dest=x.tar,compression=zstd: type=docker takes no compression= (it takes dest, name, oci-mediatypes)"},
		{[]string{"-o", "type=docker,dest=x.tar,oci-mediatypes=false"}, "--output type=docker,dest=x.tar,oci-mediatypes=false: oci-mediatypes=false is not supported: mybuild writes OCI media types only"},
		{[]string{"-t", "/some/dir"}, `-t /some/dir: invalid image name "/some/dir" (a file is written with -t PATH.tar, oci-archive:PATH or oci:DIR)`},
		{[]string{"-t", "./out"}, `-t ./out: invalid image name "./out"`},
		{[]string{"-t", "app@sha256:" + strings.Repeat("a", 64)}, `-t app@sha256:`},
		{[]string{"--push"}, "--push: no image name to push to: name the image with -t [REGISTRY/]REPO[:TAG]"},
		{[]string{"--push", "-t", "app.tar"}, "--push: no image name to push to: "},
		{[]string{"--annotation", "index:a=b"}, "--annotation index:a=b: this build writes a single image manifest, with no image index to annotate (an index comes with several platforms or a provenance): use manifest: or manifest-descriptor:"},
		{[]string{"--platform", "linux/amd64,linux/arm64", "-t", "docker://127.0.0.1:1/x", "--annotation", "index-descriptor:a=b"}, "--annotation index-descriptor:a=b: a push to docker://127.0.0.1:1/x has no index.json to hold an index descriptor annotation (oci-archive: and oci: have one)"},
		{[]string{"--annotation", "manifest,index-descriptor:a=b"}, "--annotation manifest,index-descriptor:a=b: this build writes a single image manifest, with no image index"},
		{[]string{"--annotation", "manifest[" + other + "]:a=b"}, "--annotation manifest[" + other + "]:a=b: the image is for " + image.FormatPlatform(image.HostPlatform()) + ", not " + other},
		{[]string{"--annotation", "manifest-descriptor:a=b", "-t", "docker://localhost:5000/app:1"}, "--annotation manifest-descriptor:a=b: a push to docker://localhost:5000/app:1 has no index to hold a descriptor annotation"},
		{[]string{"--annotation", "layer:a=b"}, `--annotation layer:a=b: unknown type "layer"`},
		{[]string{"--annotation", "novalue"}, "--annotation novalue: want [TYPE:]KEY=VALUE"},
		{[]string{"--build-context", "novalue"}, "--build-context novalue: want NAME=VALUE"},
		{[]string{"--build-context", "a=/no/such/dir"}, "--build-context a=/no/such/dir: stat /no/such/dir: no such file or directory"},
		{[]string{"--build-context", "a=" + file}, "--build-context a=" + file + ": " + file + " is not a directory"},
		{[]string{"--build-context", "a=https://github.com/x/y.git"}, "--build-context a=https://github.com/x/y.git: https contexts are not supported yet"},
		{[]string{"--build-context", "a=oci-layout:///l@sha256:abc"}, "--build-context a=oci-layout:///l@sha256:abc: oci-layout:// with a digest is not supported yet"},
		{[]string{"--build-context", "a=docker-image://Bad/Name"}, `--build-context a=docker-image://Bad/Name: invalid image reference "Bad/Name"`},
		{[]string{"--build-context", "a=.", "--build-context", "a=.."}, "--build-context a=..: a is given twice"},
		{[]string{"--cache-from", "type=gha"}, "--cache-from type=gha: only type=registry is supported"},
		{[]string{"--cache-to", "type=registry,ref=r/c,mode=all"}, "--cache-to type=registry,ref=r/c,mode=all: mode is min or max, for --cache-to"},
		{[]string{"--cache-to", "type=registry,ref=ghcr.io/a/app:cache"}, "--cache-to type=registry,ref=ghcr.io/a/app:cache: ref is a repository, without a tag: mybuild keeps one tag per step in it"},
		{[]string{"--cache-to", "type=registry"}, "--cache-to type=registry: missing ref=REGISTRY/REPO"},
		{[]string{"--cache-from", "r/a", "--cache-to", "r/b"}, "--cache-from r/a: mybuild shares its cache through one repository, and r/a names another (r/b)"},
		{[]string{"--progress", "fancy"}, "--progress fancy: unknown mode (want plain, quiet, rawjson, auto or tty)"},
		{[]string{"--label", "=x"}, `--label "=x": missing name`},
	} {
		code, stdout, stderr := runCLI(t, append(tc.args, ".")...)
		first, rest, _ := strings.Cut(stderr, "\n")
		if code != 2 || stdout != "" || !strings.HasPrefix(first, "mybuild: "+tc.msg) || rest != "Run 'mybuild build --help' for usage.\n" {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.msg)
		}
	}
}
