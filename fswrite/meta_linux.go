package fswrite

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/xattr"
)

// Owner is a numeric owner, as a layer holds it.
type Owner struct{ UID, GID uint32 }

func (o Owner) String() string { return fmt.Sprintf("%d:%d", o.UID, o.GID) }

// Meta is the metadata of one file: what Apply sets, and the device
// number a node is made with.
type Meta struct {
	Owner
	// Mode is the file's type, permissions, and setuid, setgid and sticky
	// bits. The type must be the file's: a symlink's mode is not set (chmod
	// would follow it), and nodes are made of this type.
	Mode fs.FileMode
	// Rdev is the number of a device node.
	Rdev uint64
	// Xattrs are set in order, on top of what the file has.
	Xattrs []xattr.Attr
	// Atime and Mtime are set unless Mtime is zero; a zero Atime is Mtime.
	Atime, Mtime time.Time
}

// Apply gives the file at path, not following a symlink, the metadata m:
// the owner, then the mode (not on a symlink; after chown, which clears
// setuid bits and file capabilities), the xattrs, the times. Each failure
// is an *Error naming the system call and the path.
//
//	chown -h uid:gid path; chmod mode path; setfattr -h ...; touch -h -d mtime path
func Apply(path string, m Meta) error {
	return apply(pathTarget(path), m, lenience{})
}

// lenience says which failures apply passes over.
type lenience struct {
	// xattrs skips the xattrs that the filesystem does not support
	// (ENOTSUP), and user.* ones on a file that cannot have them (EPERM:
	// a symlink, a device): layer extraction does, since the layer still
	// works without them.
	xattrs bool
	// owners leaves the owner as it is when the kernel refuses the new
	// one (WithOwnersIfPermitted).
	owners bool
}

// apply is Apply on t, passing over the failures lenient says.
func apply(t target, m Meta, lenient lenience) error {
	if m.UID == math.MaxUint32 || m.GID == math.MaxUint32 {
		// -1 to chown: "leave as it is".
		return fmt.Errorf("invalid owner %s", m.Owner)
	}
	if err := t.chown(m.Owner); err != nil && !(lenient.owners && ownerRefused(err)) {
		return err
	}
	if m.Mode&fs.ModeSymlink == 0 {
		if err := t.chmod(m.Mode); err != nil {
			return err
		}
	}
	for _, a := range m.Xattrs {
		err := t.setxattr(a.Name, a.Value)
		if lenient.xattrs && (errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) && strings.HasPrefix(a.Name, "user.")) {
			continue
		}
		if err != nil {
			return err
		}
	}
	if m.Mtime.IsZero() {
		return nil
	}
	atime := m.Atime
	if atime.IsZero() {
		atime = m.Mtime
	}
	return t.utimes(timespec(atime), timespec(m.Mtime))
}

// ownerRefused tells whether a chown failed for want of the right to
// give that owner: EPERM for a process without CAP_CHOWN (a normal
// user), EINVAL for an id its user namespace does not map.
func ownerRefused(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL)
}

// MetaOf is the metadata of the file at path, whose lstat is fi, with the
// xattrs keep accepts (none when keep is nil): what a copy of it gets.
func MetaOf(path string, fi fs.FileInfo, keep func(name string) bool) (Meta, error) {
	m, err := statMeta(fi)
	if err != nil || keep == nil {
		return m, err
	}
	names, err := xattr.List(path)
	if err != nil {
		return m, err
	}
	m.Xattrs, err = xattr.Read(path, names, keep)
	return m, err
}

// statMeta is the metadata of fi, an lstat result, without xattrs.
func statMeta(fi fs.FileInfo) (Meta, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Meta{}, fmt.Errorf("%s: no stat data", fi.Name())
	}
	return Meta{
		Owner: Owner{UID: st.Uid, GID: st.Gid},
		Mode:  fi.Mode(),
		Rdev:  st.Rdev,
		Atime: time.Unix(st.Atim.Sec, st.Atim.Nsec),
		Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
	}, nil
}

// unixMode is the permission, setuid, setgid and sticky bits of m, as
// chmod takes them.
func unixMode(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		b |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		b |= unix.S_ISVTX
	}
	return b
}

// timespec converts t without going through UnixNano, which overflows
// outside the years 1678 to 2262 (an archive may say anything).
func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// ignoringEINTR retries fn while a signal interrupts it.
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
