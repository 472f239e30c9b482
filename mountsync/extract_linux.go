package mountsync

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/overlay"
)

// extractChunk unpacks the chunks of the top entry name, concatenated in
// r (gzip members whose tars, put together, are one), into the empty
// directory dest, through fswrite's unpacking of an archive (ADD's, in
// which a whiteout's name is a plain file's). The chunks must hold name
// and what is below it only (chunkRules). Owners are set when the
// process may (root, or root of a user namespace, for the ids it maps),
// and otherwise the files are the process's own; mode and mtime always,
// directories' last.
func extractChunk(ctx context.Context, r io.Reader, dest, name string) error {
	dest, err := filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("chunk %s: %w", name, err)
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("chunk %s: %w", name, err)
	}
	l := fswrite.NewLayer(dest, overlay.NewStack(), fswrite.WithOwnersIfPermitted(), fswrite.WithUntarFilter(chunkRules(name)))
	if err := l.Untar(ctx, tar.NewReader(zr), "/", nil); err != nil {
		return fmt.Errorf("chunk %s: %w", name, err)
	}
	if err := l.Finish(); err != nil {
		return fmt.Errorf("chunk %s: %w", name, err)
	}
	return nil
}

// errOutOfPlace is an entry that chunkRules refuses.
var errOutOfPlace = errors.New("out of place")

// chunkRules holds the entries of the chunks of name to what writeEntry
// makes of that entry: name and what is below it, each entry's parent a
// directory an earlier entry made, and no directory named again. So no
// entry goes through a symlink, nor out of dest. Only directories,
// regular files and symlinks are made (writeEntry writes nothing else);
// other entries are skipped.
func chunkRules(name string) func(h *tar.Header) (bool, error) {
	dirs := map[string]bool{".": true}
	return func(h *tar.Header) (bool, error) {
		rel := path.Clean(h.Name)
		if rel != name && !strings.HasPrefix(rel, name+"/") || !dirs[path.Dir(rel)] || dirs[rel] {
			return false, errOutOfPlace
		}
		// A chunk carries no xattrs (writeEntry writes none): one that
		// does, from a registry, must not set capabilities on the host.
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				return false, errOutOfPlace
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			dirs[rel] = true
		case tar.TypeReg, tar.TypeSymlink:
		default:
			return false, nil
		}
		return true, nil
	}
}
