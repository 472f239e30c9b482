package transport

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/internal/atomicfile"
)

// writeIndexArchive replaces the file at path with a tar of an OCI layout
// whose index.json names idx, as name (default image.DefaultName), as a
// multi-platform build writes one. The layout is made in a scratch
// directory (writeIndexLayout), then packed, its entries in a fixed order
// with fixed headers, and the file replaced atomically.
func writeIndexArchive(ctx context.Context, path, name string, idx v1.ImageIndex) (digest.Digest, error) {
	tmp, err := os.MkdirTemp("", "mybuild-index-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	d, err := writeIndexLayout(ctx, tmp, name, idx)
	if err != nil {
		return "", err
	}
	err = atomicfile.Write(path, func(w io.Writer) error { return packLayout(w, tmp) })
	if err != nil {
		return "", err
	}
	return d, nil
}

// packLayout writes the files under dir as a tar, in lexical order (so
// oci-layout and index.json come after blobs/, which readers of OCI
// archives accept), each with the same mode and time.
func packLayout(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX, Typeflag: tar.TypeReg}
		if d.IsDir() {
			hdr.Name, hdr.Mode, hdr.Typeflag = hdr.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(hdr)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		hdr.Size = fi.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
