package image

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// tarFile reads an archive by scanning it: a tar has no index, so each
// read is one pass over it, seeking past the entries it does not need.
type tarFile struct {
	path string
	// small holds the entries read in the first pass: JSON documents
	// small enough to keep in memory, by clean name.
	small map[string][]byte
}

// openTar makes the first pass, keeping every small JSON entry.
func openTar(ctx context.Context, p string) (*tarFile, error) {
	t := &tarFile{path: p, small: map[string][]byte{}}
	err := t.scan(ctx, func(name string, hdr *tar.Header, r io.Reader) error {
		if hdr.Size > maxJSONBlob {
			return nil
		}
		br := bufio.NewReader(r)
		if first, err := br.Peek(1); err != nil || (first[0] != '{' && first[0] != '[') {
			return nil
		}
		data, err := io.ReadAll(br)
		if err != nil {
			return err
		}
		t.small[name] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// scan calls fn for every regular file of the archive.
func (t *tarFile) scan(ctx context.Context, fn func(name string, hdr *tar.Header, r io.Reader) error) error {
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", t.path, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := fn(cleanName(hdr.Name), hdr, tr); err != nil {
			return err
		}
	}
}

func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}
