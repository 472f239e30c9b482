package layerdiff

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/layer"
)

// OCI whiteout names (image-spec layer.md).
const (
	whiteoutPrefix = layer.WhiteoutPrefix
	opaqueMarker   = layer.OpaqueWhiteout
)

// whiteoutTime is the mtime of whiteout and opaque-marker entries. These
// entries stand for no file on disk, so they get a fixed time rather than
// the time of the build or of the parent directory: the Unix epoch, as
// containerd does since v2.0. Layers deleting the same paths then have the
// same bytes.
var whiteoutTime = time.Unix(0, 0)

// normalize makes a header canonical. Every header the writer emits goes
// through here and nowhere else is a header changed:
//
//   - PAX format, so long and non-ASCII names and large ids survive intact;
//   - a relative name, directories ending in "/";
//   - numeric ids only: user and group names are host state (the host's
//     /etc/passwd, not the image's) and would make layers differ by machine;
//   - mtime truncated to whole seconds, as moby does, then clamped to the
//     source date epoch; no atime or ctime, which change on every read;
//   - permission bits with setuid, setgid and sticky, nothing else;
//   - only the xattrs xattr.Carried allows.
func normalize(h *tar.Header, epoch *time.Time) {
	h.Format = tar.FormatPAX
	h.Name = strings.TrimLeft(h.Name, "/")
	if h.Typeflag == tar.TypeDir && !strings.HasSuffix(h.Name, "/") {
		h.Name += "/"
	}
	h.Uname, h.Gname = "", ""
	h.ModTime = h.ModTime.Truncate(time.Second)
	if epoch != nil && h.ModTime.After(*epoch) {
		h.ModTime = epoch.Truncate(time.Second)
	}
	h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
	h.Mode &= 0o7777
	if h.Typeflag != tar.TypeReg {
		h.Size = 0
	}
	if h.Typeflag != tar.TypeChar && h.Typeflag != tar.TypeBlock {
		h.Devmajor, h.Devminor = 0, 0
	}
	if h.Typeflag != tar.TypeSymlink && h.Typeflag != tar.TypeLink {
		h.Linkname = ""
	}
	for k := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattr); !ok || !xattr.Carried(name) {
			delete(h.PAXRecords, k)
		}
	}
	if len(h.PAXRecords) == 0 {
		h.PAXRecords = nil
	}
}

// fileHeader describes the file at p (absolute in the layer) from its lstat
// result. link is a symlink's target. It returns nil for sockets, which a tar
// cannot hold.
func fileHeader(p string, fi fs.FileInfo, link string, xattrs map[string]string) (*tar.Header, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("%s: no stat data", p)
	}
	h := &tar.Header{
		Name:       p,
		Mode:       int64(st.Mode & 0o7777),
		Uid:        int(st.Uid),
		Gid:        int(st.Gid),
		ModTime:    time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
		PAXRecords: xattrs,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		h.Typeflag = tar.TypeReg
		h.Size = st.Size
	case unix.S_IFDIR:
		h.Typeflag = tar.TypeDir
	case unix.S_IFLNK:
		h.Typeflag = tar.TypeSymlink
		h.Linkname = link
	case unix.S_IFCHR, unix.S_IFBLK:
		h.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			h.Typeflag = tar.TypeBlock
		}
		h.Devmajor = int64(unix.Major(st.Rdev))
		h.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		h.Typeflag = tar.TypeFifo
	case unix.S_IFSOCK:
		return nil, nil
	default:
		return nil, fmt.Errorf("%s: unknown file type %#o", p, st.Mode&unix.S_IFMT)
	}
	return h, nil
}

// hardlinkHeader turns h, the header of a file already in the tar as target,
// into a hard link to it.
func hardlinkHeader(h *tar.Header, target string) *tar.Header {
	h.Typeflag = tar.TypeLink
	h.Linkname = strings.TrimLeft(target, "/")
	h.Size = 0
	return h
}

// whiteoutHeader is the entry that deletes p (absolute in the layer): an
// empty file ".wh.NAME" beside it, mode 0, owned by 0:0, dated whiteoutTime.
func whiteoutHeader(p string) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     path.Join(path.Dir(p), whiteoutPrefix+path.Base(p)),
		ModTime:  whiteoutTime,
	}
}

// opaqueHeader is the entry that hides everything below dir that is not in
// this layer: an empty file "dir/.wh..wh..opq", fields as for a whiteout.
func opaqueHeader(dir string) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     path.Join(dir, opaqueMarker),
		ModTime:  whiteoutTime,
	}
}
