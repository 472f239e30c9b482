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

	"github.com/mybuild/mybuild/layer"
)

// tarFile reads an archive by scanning it: a tar has no index, so each
// read is one pass over it, seeking past the entries it does not need.
type tarFile struct {
	path string
	// small holds the entries read in the first pass: JSON documents
	// small enough to keep in memory, by clean name.
	small map[string][]byte
	// heads describes every regular file seen in the first pass, by clean
	// name, so that a layer's compression is known without another pass.
	heads map[string]tarHead
	// links maps the clean name of each symbolic or hard link to the
	// clean name of its target. `docker save` before Docker 25 links a
	// layer that an image holds twice to its first copy.
	links map[string]string
}

// tarHead is what the first pass learns about a file from its header and
// its first bytes.
type tarHead struct {
	size int64
	// mediaType is the OCI layer media type that the file's first bytes
	// suggest: gzip, zstd, or else an uncompressed tar.
	mediaType string
}

// openTar makes the first pass, keeping every small JSON entry.
func openTar(ctx context.Context, p string) (*tarFile, error) {
	t := &tarFile{path: p, small: map[string][]byte{}, heads: map[string]tarHead{}, links: map[string]string{}}
	err := t.scanAll(ctx, func(name string, hdr *tar.Header, r io.Reader) error {
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(name), target)
			}
			t.links[name] = cleanName(target)
			return nil
		case tar.TypeLink:
			t.links[name] = cleanName(hdr.Linkname)
			return nil
		case tar.TypeReg:
		default:
			return nil
		}
		br := bufio.NewReader(r)
		first, _ := br.Peek(4) // short for a short file
		t.heads[name] = tarHead{size: hdr.Size, mediaType: sniffLayer(first)}
		if hdr.Size > maxJSONBlob || len(first) == 0 || (first[0] != '{' && first[0] != '[') {
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

// sniffLayer tells a layer's media type from its first bytes.
func sniffLayer(first []byte) string {
	mt, _ := layer.Compression{Algorithm: layer.Sniff(first)}.MediaType() // known: gzip, zstd or none
	return mt
}

// maxLinks bounds how many links resolve follows.
const maxLinks = 8

// resolve follows links from name to the regular file it stands for.
func (t *tarFile) resolve(name string) string {
	for range maxLinks {
		target, ok := t.links[name]
		if !ok {
			break
		}
		name = target
	}
	return name
}

// scan calls fn for every regular file of the archive.
func (t *tarFile) scan(ctx context.Context, fn func(name string, hdr *tar.Header, r io.Reader) error) error {
	return t.scanAll(ctx, func(name string, hdr *tar.Header, r io.Reader) error {
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		return fn(name, hdr, r)
	})
}

// scanAll calls fn for every entry of the archive.
func (t *tarFile) scanAll(ctx context.Context, fn func(name string, hdr *tar.Header, r io.Reader) error) error {
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
		if err := fn(cleanName(hdr.Name), hdr, tr); err != nil {
			return err
		}
	}
}

func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// open reads the regular file name (clean, links resolved): a pass that
// seeks past the entries before it. Closing the reader closes the archive.
func (t *tarFile) open(ctx context.Context, name string) (io.ReadCloser, error) {
	f, err := os.Open(t.path)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(f)
	for {
		if err := ctx.Err(); err != nil {
			f.Close()
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			f.Close()
			return nil, fmt.Errorf("%s: %s is missing", t.path, name)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", t.path, err)
		}
		if hdr.Typeflag == tar.TypeReg && cleanName(hdr.Name) == name {
			return entryReader{Reader: tr, Closer: f}, nil
		}
	}
}

// entryReader reads one entry of an open archive, and closes the archive.
type entryReader struct {
	io.Reader
	io.Closer
}
