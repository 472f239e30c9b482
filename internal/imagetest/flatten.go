package imagetest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
)

// EntryType is the kind of file at a path of a flattened image.
type EntryType string

// The kinds of file a layer can hold. Hard links are not a kind: a hard link
// is a path that shares a file with other paths (see Entry.Nlink).
const (
	TypeDir     EntryType = "dir"
	TypeFile    EntryType = "file"
	TypeSymlink EntryType = "symlink"
	TypeFifo    EntryType = "fifo"
	TypeChar    EntryType = "char"
	TypeBlock   EntryType = "block"
)

// Entry is one path of a flattened image. Times and user and group names
// are deliberately absent: builders do not agree on them and images are
// not meant to depend on them.
type Entry struct {
	Type EntryType
	// Mode holds the permission bits plus setuid (04000), setgid (02000)
	// and sticky (01000), as in tar headers.
	Mode     uint32
	Uid, Gid int
	// Size and SHA256 (lowercase hex) describe the content of a TypeFile.
	Size   int64
	SHA256 string
	// Linkname is the target of a TypeSymlink.
	Linkname           string
	Devmajor, Devminor int64
	// Xattrs holds extended attributes (tar PAX "SCHILY.xattr." records).
	Xattrs map[string]string
	// Nlink is the number of paths of the image that are this same file; it
	// is 1 unless the file is hard-linked.
	Nlink int
	// Hardlink is, for every path of a hard-link group but the first, the
	// group's first path in listing order; "" otherwise.
	Hardlink string
}

// FS is the root filesystem of an image: its layers applied in order.
// It is immutable.
type FS struct {
	entries map[string]Entry
}

// Lookup returns the entry at p, an absolute slash-separated path.
func (fsys *FS) Lookup(p string) (Entry, bool) {
	e, ok := fsys.entries[path.Clean("/"+p)]
	e.Xattrs = maps.Clone(e.Xattrs)
	return e, ok
}

// Paths returns every path of fsys in listing order. The root directory is
// included only if a layer holds an entry for it.
func (fsys *FS) Paths() []string {
	ps := slices.Collect(maps.Keys(fsys.entries))
	slices.SortFunc(ps, ComparePaths)
	return ps
}

// Flatten reads the OCI image archive (a tar of an OCI image layout, or
// such a layout as a directory) and applies its layers in order. It checks
// every blob against its digest and every layer against its diff_id.
//
// Layers follow OCI whiteout semantics: ".wh.NAME" removes NAME from lower
// layers and ".wh..wh..opq" removes everything lower layers put under its
// directory. A tar hard link makes its path share the target's file, and
// replacing one path of a group later gives that path a file of its own,
// as extracting the layers with a tar tool would.
func Flatten(archive string, opts ...ImageOption) (_ *FS, err error) {
	l, err := openLayout(archive)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	img, err := loadImage(l, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", archive, err)
	}
	ids, err := img.diffIDs()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", archive, err)
	}
	b := &builder{nodes: map[string]*inode{}}
	for i, desc := range img.manifest.Layers {
		if err := walkLayer(l, desc, ids[i], b.applyLayer); err != nil {
			return nil, fmt.Errorf("%s: layer %d (%s): %w", archive, i, desc.Digest, err)
		}
	}
	return b.finish(), nil
}

const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// inode is a file that one or more paths share.
type inode struct{ e Entry }

// builder applies layers to a map of paths. Paths are absolute and clean.
type builder struct {
	nodes map[string]*inode
}

func (b *builder) applyLayer(tr *tar.Reader) error {
	// added holds the paths this layer puts in place: whiteouts only hide
	// what lower layers hold.
	added := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := b.apply(hdr, tr, added); err != nil {
			return fmt.Errorf("%q: %w", hdr.Name, err)
		}
	}
}

func (b *builder) apply(hdr *tar.Header, content io.Reader, added map[string]bool) error {
	p := path.Clean("/" + hdr.Name)
	dir, base := path.Split(p)
	dir = path.Clean(dir)
	if base == whiteoutOpaque {
		if err := b.mkdirAll(dir); err != nil {
			return err
		}
		b.removeUnder(dir, added)
		return nil
	}
	if name, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
		if name == "" || name == "." || name == ".." {
			return errors.New("malformed whiteout")
		}
		target := path.Join(dir, name)
		if !added[target] {
			delete(b.nodes, target)
		}
		b.removeUnder(target, added)
		return nil
	}
	if err := b.mkdirAll(dir); err != nil {
		return err
	}
	var n *inode
	if hdr.Typeflag == tar.TypeLink {
		target := path.Clean("/" + hdr.Linkname)
		n = b.nodes[target]
		switch {
		case n == nil:
			return fmt.Errorf("hard link to missing %s", target)
		case n.e.Type == TypeDir:
			return fmt.Errorf("hard link to directory %s", target)
		}
	} else {
		e, err := entryFromHeader(hdr, content)
		if err != nil {
			return err
		}
		n = &inode{e: e}
	}
	if p == "/" && n.e.Type != TypeDir {
		return fmt.Errorf("root is a %s", n.e.Type)
	}
	if old := b.nodes[p]; old != nil && old.e.Type == TypeDir && n.e.Type != TypeDir {
		b.removeUnder(p, nil)
	}
	b.nodes[p] = n
	added[p] = true
	return nil
}

// mkdirAll makes sure dir and its parents are directories, creating missing
// ones as 0755 root-owned directories the way tar extractors do.
func (b *builder) mkdirAll(dir string) error {
	if dir == "/" {
		return nil
	}
	if err := b.mkdirAll(path.Dir(dir)); err != nil {
		return err
	}
	switch n := b.nodes[dir]; {
	case n == nil:
		b.nodes[dir] = &inode{e: Entry{Type: TypeDir, Mode: 0o755}}
	case n.e.Type != TypeDir:
		return fmt.Errorf("parent %s is a %s", dir, n.e.Type)
	}
	return nil
}

// removeUnder removes every path below dir except those in keep.
func (b *builder) removeUnder(dir string, keep map[string]bool) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for p := range b.nodes {
		if strings.HasPrefix(p, prefix) && !keep[p] {
			delete(b.nodes, p)
		}
	}
}

func entryFromHeader(hdr *tar.Header, content io.Reader) (Entry, error) {
	e := Entry{
		Mode: uint32(hdr.Mode) & 0o7777,
		Uid:  hdr.Uid,
		Gid:  hdr.Gid,
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		e.Type = TypeFile
		h := sha256.New()
		n, err := io.Copy(h, content)
		if err != nil {
			return Entry{}, err
		}
		e.Size = n
		e.SHA256 = hex.EncodeToString(h.Sum(nil))
	case tar.TypeDir:
		e.Type = TypeDir
	case tar.TypeSymlink:
		e.Type = TypeSymlink
		e.Linkname = hdr.Linkname
	case tar.TypeFifo:
		e.Type = TypeFifo
	case tar.TypeChar, tar.TypeBlock:
		e.Type = TypeChar
		if hdr.Typeflag == tar.TypeBlock {
			e.Type = TypeBlock
		}
		e.Devmajor, e.Devminor = hdr.Devmajor, hdr.Devminor
	default:
		return Entry{}, fmt.Errorf("unsupported tar type %q", hdr.Typeflag)
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if e.Xattrs == nil {
				e.Xattrs = map[string]string{}
			}
			e.Xattrs[name] = v
		}
	}
	return e, nil
}

// finish turns the applied paths into an FS, numbering hard-link groups.
func (b *builder) finish() *FS {
	groups := map[*inode][]string{}
	for p, n := range b.nodes {
		groups[n] = append(groups[n], p)
	}
	entries := make(map[string]Entry, len(b.nodes))
	for n, paths := range groups {
		slices.SortFunc(paths, ComparePaths)
		for i, p := range paths {
			e := n.e
			e.Xattrs = maps.Clone(e.Xattrs)
			e.Nlink = len(paths)
			if i > 0 {
				e.Hardlink = paths[0]
			}
			entries[p] = e
		}
	}
	return &FS{entries: entries}
}

// ComparePaths orders paths component by component, so that a directory's
// contents follow it directly ("/a", "/a/b", "/a-b"): bytewise, with '/'
// sorting before every other byte.
func ComparePaths(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		switch {
		case ca == '/':
			return -1
		case cb == '/':
			return 1
		case ca < cb:
			return -1
		default:
			return 1
		}
	}
	return len(a) - len(b)
}
