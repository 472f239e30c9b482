package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/transport"
)

const inspectUsage = `Usage: mybuild inspect [--json] [--platform os/arch[/variant]] [--insecure-registry HOST[:PORT]] IMAGE

Shows an image: its digest, size and config, then each layer with its size
and the step that made it (created_by). IMAGE is a local image (PATH.tar,
oci-archive:PATH[:REF], oci:DIR[:REF], a directory holding an OCI layout,
docker-archive:PATH[:NAME:TAG]) or a registry reference (docker://REF, or
REGISTRY/REPO:TAG as FROM takes it). Only the manifest and the config of a
registry image are downloaded. Needs neither root nor the cache.

Flags:
`

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mybuild inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the inspection as JSON")
	platform := fs.String("platform", "", "the image of a multi-platform image to show: `os/arch[/variant]` (default the host's)")
	var insecure stringList
	fs.Var(&insecure, "insecure-registry", "reach `HOST[:PORT]` over plain HTTP; repeatable (localhost and 127.0.0.1 always are)")
	fs.Usage = func() {
		fmt.Fprint(stderr, inspectUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("inspect: want one IMAGE, got %d arguments", len(rest))
	}
	p := image.HostPlatform()
	if *platform != "" {
		if p, err = image.ParsePlatform(*platform); err != nil {
			return usagef("--platform: %v", err)
		}
	}
	ref, err := transport.ParseRefOrPath(rest[0])
	if err == nil {
		err = transport.Check(ref)
	}
	if err != nil {
		return usagef("inspect %s: %v", rest[0], err)
	}
	i, err := transport.Inspect(ctx, ref, transport.WithPlatform(p), transport.WithRegistry(registry.WithInsecure(insecure...)))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // keep RUN a > b readable
		return enc.Encode(i)
	}
	return i.WriteText(stdout)
}
