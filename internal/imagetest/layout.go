package imagetest

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// layout gives read access to the files of an OCI image layout
// ("oci-layout", "index.json", "blobs/<alg>/<hex>"), wherever they are stored.
type layout interface {
	// open returns the named file; name is slash-separated and relative to
	// the layout root.
	open(name string) (io.ReadCloser, error)
	Close() error
}

// openLayout opens an OCI image layout stored either as a tar archive (what
// `buildctl --output type=oci,dest=x.tar` writes) or as a directory.
func openLayout(archive string) (layout, error) {
	st, err := os.Stat(archive)
	if err != nil {
		return nil, err
	}
	var l layout
	if st.IsDir() {
		l = dirLayout(archive)
	} else if l, err = openTarLayout(archive); err != nil {
		return nil, err
	}
	if err := checkLayoutHeader(l); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", archive, err), l.Close())
	}
	return l, nil
}

func checkLayoutHeader(l layout) error {
	r, err := l.open("oci-layout")
	if err != nil {
		return fmt.Errorf("not an OCI image layout: %w", err)
	}
	var hdr struct {
		Version string `json:"imageLayoutVersion"`
	}
	err = decodeJSON(r, &hdr)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read oci-layout: %w", err)
	}
	if hdr.Version != "1.0.0" {
		return fmt.Errorf("unsupported imageLayoutVersion %q", hdr.Version)
	}
	return nil
}

type dirLayout string

func (d dirLayout) open(name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), filepath.FromSlash(name)))
}

func (dirLayout) Close() error { return nil }

// tarLayout is a layout inside an uncompressed tar file. The tar is scanned
// once for the offset of each member; members are then read in place.
type tarLayout struct {
	f       *os.File
	members map[string]section
}

type section struct{ off, size int64 }

func openTarLayout(name string) (*tarLayout, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	members, err := indexTar(f)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("index %s: %w", name, err), f.Close())
	}
	return &tarLayout{f: f, members: members}, nil
}

// indexTar records where the data of each regular file starts. archive/tar
// reads headers in whole 512-byte blocks straight from the file and seeks
// over member data, so the file offset after Next is where the data starts.
func indexTar(f *os.File) (map[string]section, error) {
	tr := tar.NewReader(f)
	members := map[string]section{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return members, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		for k := range hdr.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse.") {
				return nil, fmt.Errorf("sparse member %q", hdr.Name)
			}
		}
		name := path.Clean("/" + hdr.Name)[1:]
		if !fs.ValidPath(name) {
			return nil, fmt.Errorf("invalid member name %q", hdr.Name)
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		members[name] = section{off: off, size: hdr.Size}
	}
}

func (t *tarLayout) open(name string) (io.ReadCloser, error) {
	s, ok := t.members[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
	return io.NopCloser(io.NewSectionReader(t.f, s.off, s.size)), nil
}

func (t *tarLayout) Close() error { return t.f.Close() }

var (
	_ layout = dirLayout("")
	_ layout = (*tarLayout)(nil)
)
