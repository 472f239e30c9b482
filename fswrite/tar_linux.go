package fswrite

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"syscall"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// paxXattr prefixes the PAX records that hold xattrs.
const paxXattr = "SCHILY.xattr."

// untar runs entry on each entry of tr, with a buffer for file data from
// the pool for the time it runs. A tar that cannot be read, or ctx being
// done, is an error prefixed with readErr; an entry that fails, one
// prefixed with entryErr and the entry's name.
func (l *Layer) untar(ctx context.Context, tr *tar.Reader, readErr, entryErr string, entry func(*tar.Header, io.Reader) error) error {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	l.buf = *buf
	defer func() { l.buf = nil }()
	// Entries may replace directories: Finish must check them.
	l.verify = true
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", readErr, err)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", readErr, err)
		}
		if err := entry(h, tr); err != nil {
			return fmt.Errorf("%s %q: %w", entryErr, h.Name, err)
		}
	}
}

// makeEntry makes the entry m describes at p, whose parent exists, with
// the size bytes of r for a regular file and link for a symlink, and
// applies m. Nothing may be at p but a directory, when m is one too: it is
// kept.
func (l *Layer) makeEntry(ctx context.Context, p string, m Meta, link string, r io.Reader, size int64) error {
	h := l.host(p)
	switch {
	case m.Mode.IsRegular():
		return l.writeFile(ctx, h, m, r, size)
	case m.Mode.IsDir():
		if err := mknode(h, m, ""); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case l.skipDevices != nil && m.Mode&fs.ModeDevice != 0 && !isWhiteoutMeta(m):
		l.skipDevices(p)
		return nil
	default:
		if err := mknode(h, m, link); err != nil {
			return err
		}
	}
	return l.setMeta(p, m)
}

// writeFile creates the regular file h with the size bytes of r, sparsely,
// and applies m through the open file.
func (l *Layer) writeFile(ctx context.Context, h string, m Meta, r io.Reader, size int64) error {
	buf := l.buf
	if buf == nil {
		buf = make([]byte, bufSize)
	}
	f, err := createFile(h)
	if err != nil {
		return err
	}
	var sum hash.Hash
	if l.digests != nil {
		sum = sha256.New()
		r = io.TeeReader(r, sum)
	}
	err = writeSparse(ctx, f, r, size, buf)
	if err != nil {
		err = &Error{Op: "write", Path: h, Err: err}
	} else {
		err = apply(fileTarget{f}, m, l.lenient)
	}
	if err == nil && sum != nil {
		err = l.tellDigest(f, size, sum)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// tellDigest gives l.digests the digest of the file f just written, size
// bytes, with its stat now that its metadata is applied.
func (l *Layer) tellDigest(f *rawFile, size int64, sum hash.Hash) error {
	var st unix.Stat_t
	if err := f.Stat(&st); err != nil {
		return err
	}
	if st.Size == size {
		l.digests(ContentDigest{Ino: st.Ino, Size: size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
			Digest: digest.NewDigest(digest.SHA256, sum)})
	}
	return nil
}

// copyIn copies e, a file of a layer below, to p, which is clear, for a
// hard link that cannot cross layers: its data, owner, mode, the xattrs l
// carries, and times. Further links to the same file link to the copy.
func (l *Layer) copyIn(ctx context.Context, e overlay.Entry, p string) error {
	st := e.Sys().(*syscall.Stat_t)
	id := fileID{dev: st.Dev, ino: st.Ino}
	h := l.host(p)
	if first, ok := l.linkTo(id); ok {
		return os.Link(first, h)
	}
	m, err := MetaOf(e.HostPath, e.FileInfo, l.carried)
	if err != nil {
		return err
	}
	var link string
	switch m.Mode.Type() {
	case 0:
		if err := l.copyData(ctx, e.HostPath, h, m, st.Size); err != nil {
			return err
		}
		l.remember(id, h)
		return nil
	case fs.ModeSymlink:
		if link, err = os.Readlink(e.HostPath); err != nil {
			return err
		}
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice, fs.ModeNamedPipe:
	default:
		return fmt.Errorf("%s: cannot copy file type %v", e.HostPath, m.Mode.Type())
	}
	if err := l.makeEntry(ctx, p, m, link, nil, 0); err != nil {
		return err
	}
	l.remember(id, h)
	return nil
}

// copyData copies the regular file src to the new file dst, sparsely.
func (l *Layer) copyData(ctx context.Context, src, dst string, m Meta, size int64) error {
	in, err := openRead(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return l.writeFile(ctx, dst, m, in, size)
}

// headerMeta is the metadata of h, owned by chown when it is not nil,
// with the xattrs of its PAX records that keep accepts, sorted by name.
func headerMeta(h *tar.Header, chown *Owner, keep func(name string) bool) (Meta, error) {
	m := Meta{
		Mode:  headerMode(h),
		Atime: h.AccessTime,
		Mtime: h.ModTime,
	}
	switch {
	case chown != nil:
		m.Owner = *chown
	case h.Uid < 0 || h.Uid >= math.MaxUint32 || h.Gid < 0 || h.Gid >= math.MaxUint32:
		return Meta{}, fmt.Errorf("invalid owner %d:%d", h.Uid, h.Gid)
	default:
		m.Owner = Owner{UID: uint32(h.Uid), GID: uint32(h.Gid)}
	}
	if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
		if h.Devmajor < 0 || h.Devmajor > math.MaxUint32 || h.Devminor < 0 || h.Devminor > math.MaxUint32 {
			return Meta{}, fmt.Errorf("invalid device number %d:%d", h.Devmajor, h.Devminor)
		}
		m.Rdev = unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))
	}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattr); ok && keep(name) {
			m.Xattrs = append(m.Xattrs, xattr.Attr{Name: name, Value: []byte(v)})
		}
	}
	slices.SortFunc(m.Xattrs, func(a, b xattr.Attr) int { return strings.Compare(a.Name, b.Name) })
	return m, nil
}

// headerMode is the mode of h: its type from the type flag alone (a
// hostile header's mode bits may say otherwise), and its raw permission,
// setuid, setgid and sticky bits. A hard link is a regular file here.
func headerMode(h *tar.Header) fs.FileMode {
	m := fs.FileMode(h.Mode & 0o777)
	if h.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if h.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if h.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	switch h.Typeflag {
	case tar.TypeDir:
		m |= fs.ModeDir
	case tar.TypeSymlink:
		m |= fs.ModeSymlink
	case tar.TypeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case tar.TypeBlock:
		m |= fs.ModeDevice
	case tar.TypeFifo:
		m |= fs.ModeNamedPipe
	}
	return m
}

// isWhiteoutMeta tells whether m is a char device 0/0, which is a whiteout
// in overlay format, and which even a user namespace can make.
func isWhiteoutMeta(m Meta) bool {
	return m.Mode&fs.ModeCharDevice != 0 && m.Rdev == 0
}
