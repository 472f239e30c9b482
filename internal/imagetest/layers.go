package imagetest

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// LayerPaths returns the paths of the entries of each layer of the image
// in the OCI image archive (or layout directory), in tar order: absolute
// and clean, whiteouts as they are named (/etc/.wh.passwd).
func LayerPaths(archive string) (_ [][]string, err error) {
	l, err := openLayout(archive)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	img, err := loadImage(l)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", archive, err)
	}
	ids, err := img.diffIDs()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", archive, err)
	}
	out := make([][]string, len(img.manifest.Layers))
	for i, desc := range img.manifest.Layers {
		err := walkLayer(l, desc, ids[i], func(tr *tar.Reader) error {
			for {
				hdr, err := tr.Next()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				out[i] = append(out[i], path.Clean("/"+hdr.Name))
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d (%s): %w", archive, i, desc.Digest, err)
		}
	}
	return out, nil
}

// LineDiff lists the lines of want that got lacks ("- line") and those of
// got that want lacks ("+ line"), in their order: what differs between
// two listings.
func LineDiff(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
