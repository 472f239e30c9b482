package transport

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/registry"
)

// CreateIndex writes to dest, a registry reference, an OCI archive or an
// OCI layout (not a docker-archive), an index of the images srcs name (see registry.CreateIndex): registry
// references, and OCI layouts and archives. Each image keeps its
// manifest and digest. It returns the index's digest.
func CreateIndex(ctx context.Context, dest Ref, srcs []Ref, opts ...Option) (digest.Digest, error) {
	o := makeOptions(opts)
	if dest.Transport == DockerArchive {
		return "", fmt.Errorf("index create -t %s: %w", dest, ErrOnePlatform)
	}
	sources := make([]registry.IndexSource, len(srcs))
	for i, src := range srcs {
		s := registry.IndexSource{Label: src.String()}
		switch src.Transport {
		case Docker:
			s.Ref = src.Path
		case OCILayout:
			s.Layout, s.Name = src.Path, src.Name
		case OCIArchive:
			dir, err := os.MkdirTemp("", "mybuild-index-")
			if err != nil {
				return "", err
			}
			defer os.RemoveAll(dir)
			if err := extractLayout(src.Path, dir); err != nil {
				return "", fmt.Errorf("index create: %s: %w", src, err)
			}
			s.Layout, s.Name = dir, src.Name
		default:
			return "", fmt.Errorf("index create: %s: a docker-archive has no manifest to keep; push it, or write it as oci-archive:", src)
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

// extractLayout unpacks the OCI layout in the tar at archive into dir:
// oci-layout, index.json and the blobs, regular files only, none outside
// dir.
func extractLayout(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(hdr.Name)
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		if hdr.Typeflag != tar.TypeReg || strings.HasPrefix(name, "..") || path.IsAbs(name) {
			return fmt.Errorf("%s: unexpected entry %q in an OCI archive", archive, hdr.Name)
		}
		if err := writeEntry(filepath.Join(dir, filepath.FromSlash(name)), tr); err != nil {
			return err
		}
	}
}

func writeEntry(p string, r io.Reader) (err error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = io.Copy(out, r)
	return err
}
