package transport

import (
	"context"
	"fmt"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
)

// CreateIndex writes to dest, a registry reference, an OCI archive or an
// OCI layout (not a docker-archive), an index of the images srcs name (see
// registry.CreateIndex): registry references, OCI layouts, and OCI
// archives and docker-archives, read where they are. Each image keeps its
// manifest and digest; a docker-archive's image, which has no manifest,
// gets the one mybuild gives it everywhere (inspect, FROM): an OCI
// manifest of the re-encoded config and the layers as the archive holds
// them (uncompressed tars, as `docker save` writes them). It returns the
// index's digest.
func CreateIndex(ctx context.Context, dest Ref, srcs []Ref, opts ...Option) (digest.Digest, error) {
	o := makeOptions(opts)
	if dest.Transport == DockerArchive {
		return "", fmt.Errorf("index create -t %s: %w", dest, ErrOnePlatform)
	}
	sources := make([]registry.IndexSource, len(srcs))
	for i, src := range srcs {
		s, err := indexSource(ctx, src)
		if err != nil {
			return "", fmt.Errorf("index create: %s: %w", src, err)
		}
		sources[i] = s
	}
	if dest.Transport == Docker {
		return registry.CreateIndex(ctx, dest.Path, sources, o.registry...)
	}
	idx, err := registry.CollectIndex(ctx, sources, o.registry...)
	if err != nil {
		return "", err
	}
	write := writeIndexArchive
	if dest.Transport == OCILayout {
		write = writeIndexLayout
	}
	d, err := write(ctx, dest.Path, dest.Name, idx)
	if err != nil {
		return "", fmt.Errorf("index create: write %s: %w", dest, err)
	}
	return d, nil
}

// indexSource is what registry.CollectIndex reads of src. An archive is
// read where it is, as the OCI layout it holds (for a docker-archive, the
// layout of the one image it names).
func indexSource(ctx context.Context, src Ref) (registry.IndexSource, error) {
	s := registry.IndexSource{Label: src.String()}
	switch src.Transport {
	case Docker:
		s.Ref = src.Path
	case OCILayout:
		s.Layout, s.Name = src.Path, src.Name
	case OCIArchive:
		l, err := image.OpenOCIArchiveLayout(ctx, src.Path)
		if err != nil {
			return s, err
		}
		s.Index, s.Name = newArchiveIndex(ctx, l), src.Name
	case DockerArchive:
		l, err := image.OpenDockerArchiveLayout(ctx, src.Path, src.Name)
		if err != nil {
			return s, err
		}
		s.Index = newArchiveIndex(ctx, l)
	default:
		return s, fmt.Errorf("unknown transport %q", src.Transport)
	}
	return s, nil
}
