package main

import (
	"context"
	"fmt"

	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/transport"
	"github.com/spf13/cobra"
)

// newIndexCommand is mybuild index and its one command, create.
func newIndexCommand(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index COMMAND",
		Short: "Make a multi-platform image of images built apart",
		Long: `Makes multi-platform images: create writes one index of images built
apart, on several machines (a CI matrix, one job per platform).`,
		Example: `  mybuild index create -t ghcr.io/acme/app:1 ghcr.io/acme/app:1-amd64 ghcr.io/acme/app:1-arm64`,
		Args:    cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("index: missing command (create)")
			}
			return usagef("index: unknown command %q (want create)", args[0])
		},
	}
	cmd.AddCommand(newIndexCreateCommand(s))
	return cmd
}

const indexCreateLong = `Writes under DEST one index of every image the SOURCEs hold: an image as it
is, and the images of an index, each keeping its manifest and digest. A
SOURCE is a registry reference (docker://REF, or REGISTRY/REPO:TAG), an
OCI layout (oci:DIR[:REF]), an OCI archive (oci-archive:PATH[:REF],
PATH.tar) or a docker-archive (docker-archive:PATH[:NAME:TAG]); DEST is
one of these, but a docker-archive. A docker-archive's image gets the
manifest mybuild inspect shows for it: its layers stay the archive's
uncompressed tars. The index is a Docker manifest list when every image is
a Docker schema 2 manifest, else an OCI index.

Between repositories of one registry, layers are mounted, and copied where
the registry refuses; within DEST's own repository only the index is
uploaded. The index digest goes to stdout.`

// indexCreateOptions are the flags of mybuild index create.
type indexCreateOptions struct {
	dest     string
	insecure []string
}

func newIndexCreateCommand(s streams) *cobra.Command {
	o := &indexCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create -t DEST SOURCE...",
		Short: "Write one index of images or indexes",
		Long:  indexCreateLong,
		Example: `  mybuild index create -t ghcr.io/acme/app:1 ghcr.io/acme/app:1-amd64 ghcr.io/acme/app:1-arm64
  mybuild index create -t docker://localhost:5000/app:1 amd64.tar arm64.tar
  mybuild index create -t multi.tar amd64.tar arm64.tar`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("index create: want at least one SOURCE")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return withInterrupt(func(ctx context.Context) error { return runIndexCreate(ctx, o, args, s) })
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVarP(&o.dest, "tag", "t", "", "Where the index goes: a registry reference, an OCI archive (oci-archive:PATH, PATH.tar) or an OCI layout (oci:DIR[:REF])")
	fs.StringArrayVar(&o.insecure, "insecure-registry", nil, "Reach this registry (HOST[:PORT]) over plain HTTP; localhost and 127.0.0.1 always are")
	return cmd
}

func runIndexCreate(ctx context.Context, o *indexCreateOptions, args []string, s streams) error {
	if o.dest == "" {
		return usagef("index create: -t DEST is required")
	}
	dest, err := transport.ParseRefOrPath(o.dest)
	if err == nil {
		err = transport.Check(dest)
	}
	if err != nil {
		return usagef("index create -t %s: %v", o.dest, err)
	}
	srcs := make([]transport.Ref, len(args))
	for i, a := range args {
		if srcs[i], err = transport.ParseRefOrPath(a); err == nil {
			err = transport.Check(srcs[i])
		}
		if err != nil {
			return usagef("index create %s: %v", a, err)
		}
	}
	d, err := transport.CreateIndex(ctx, dest, srcs, transport.WithRegistry(registry.WithInsecure(o.insecure...)))
	if err != nil {
		return err
	}
	fmt.Fprintln(s.out, d)
	return nil
}
