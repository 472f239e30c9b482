package fswrite

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"syscall"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// ViewDigest sums up what s shows at every path r recorded: for a lookup,
// the entry's metadata as a copy up takes it (type, mode, owner, mtime,
// device number, xattrs other than overlayfs's own), a regular file's
// size and a symlink's target, or that nothing is there; for a listing,
// each entry's name and metadata; for a read, the file's content. A
// lookup of the root says nothing: the writer always finds one there,
// its upper dir, and no layer carries the root's metadata.
//
// A Layer over a stack recorded in r (NewLayer keeps the recording) makes
// the same files over any stack with the same digest for r: every choice
// it makes about what is below goes through those reads.
func ViewDigest(r *overlay.Reads, s *overlay.Stack) (digest.Digest, error) {
	plain := overlay.NewStack(s.Dirs()...)
	h := sha256.New()
	for _, rd := range r.List() {
		fmt.Fprintf(h, "%q %d\n", rd.Path, rd.Kind)
		switch {
		case rd.Kind&overlay.ReadLookup == 0:
		case rd.Path == "/":
			// The writer's view always has a root, its upper dir's.
			io.WriteString(h, "root\n")
		default:
			e, err := plain.Lstat(rd.Path)
			if err := sumEntry(h, e, err); err != nil {
				return "", err
			}
		}
		if rd.Kind&overlay.ReadList != 0 {
			es, err := plain.ReadDir(rd.Path)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
					return "", err
				}
				fmt.Fprintf(h, "unlisted\n")
			}
			for _, e := range es {
				fmt.Fprintf(h, "%q ", e.Name())
				if err := sumEntry(h, e, nil); err != nil {
					return "", err
				}
			}
		}
		if rd.Kind&overlay.ReadContent != 0 {
			if err := sumContent(h, plain, rd.Path); err != nil {
				return "", err
			}
		}
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// sumEntry writes what a lookup found: err, or e.
func sumEntry(h hash.Hash, e overlay.Entry, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		_, err = io.WriteString(h, "absent\n")
		return err
	}
	if err != nil {
		return err
	}
	m, err := MetaOf(e.HostPath, e.FileInfo, func(name string) bool { return !xattr.Overlay(name) })
	if err != nil {
		return err
	}
	var size int64
	if e.Mode().IsRegular() {
		size = e.Size()
	}
	fmt.Fprintf(h, "%d %d:%d %d %d %d\n", uint32(m.Mode), m.UID, m.GID, m.Rdev, size, m.Mtime.UnixNano())
	for _, x := range m.Xattrs {
		fmt.Fprintf(h, "x %q %q\n", x.Name, x.Value)
	}
	if e.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(e.HostPath)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "-> %q\n", target)
	}
	return nil
}

// sumContent writes the digest of the file p, or why it has none.
func sumContent(h hash.Hash, s *overlay.Stack, p string) error {
	b, err := s.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		_, err = io.WriteString(h, "no content\n")
		return err
	}
	_, err = fmt.Fprintf(h, "content %s\n", digest.FromBytes(b))
	return err
}
