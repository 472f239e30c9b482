package main

import (
	"context"
	"encoding/json"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/transport"
	"github.com/spf13/cobra"
)

const inspectLong = `Shows an image: its digest, size and config, then each layer with its size
and the step that made it (created_by). IMAGE is a local image (PATH.tar,
oci-archive:PATH[:REF], oci:DIR[:REF], a directory holding an OCI layout,
docker-archive:PATH[:NAME:TAG]) or a registry reference (docker://REF, or
REGISTRY/REPO:TAG as FROM takes it). Only the manifest and the config of a
registry image are downloaded. Needs neither root nor the cache.`

const inspectExample = `  mybuild inspect app.tar
  mybuild inspect --json localhost:5000/app:1
  mybuild inspect --platform linux/arm64 debian:12`

// inspectOptions are the flags of mybuild inspect.
type inspectOptions struct {
	json     bool
	platform string
	insecure []string
}

func newInspectCommand(s streams) *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:     "inspect [flags] IMAGE",
		Short:   "Show an image's digest, config and layers",
		Long:    inspectLong,
		Example: inspectExample,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("inspect: want one IMAGE, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return withInterrupt(func(ctx context.Context) error { return runInspect(ctx, o, args[0], s) })
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.BoolVar(&o.json, "json", false, "Print the inspection as JSON")
	fs.StringVar(&o.platform, "platform", "", "The image of a multi-platform image to show (os/arch[/variant]; default the host's)")
	fs.StringArrayVar(&o.insecure, "insecure-registry", nil, "Reach this registry (HOST[:PORT]) over plain HTTP; localhost and 127.0.0.1 always are")
	return cmd
}

func runInspect(ctx context.Context, o *inspectOptions, name string, s streams) error {
	p := image.HostPlatform()
	if o.platform != "" {
		var err error
		if p, err = image.ParsePlatform(o.platform); err != nil {
			return usagef("--platform: %v", err)
		}
	}
	ref, err := transport.ParseRefOrPath(name)
	if err == nil {
		err = transport.Check(ref)
	}
	if err != nil {
		return usagef("inspect %s: %v", name, err)
	}
	i, err := transport.Inspect(ctx, ref, transport.WithPlatform(p), transport.WithRegistry(registry.WithInsecure(o.insecure...)))
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // keep RUN a > b readable
		return enc.Encode(i)
	}
	return i.WriteText(s.out)
}
