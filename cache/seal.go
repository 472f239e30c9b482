package cache

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/internal/xattr"
	digest "github.com/opencontainers/go-digest"
)

// A seal is what an unpacked layer held when it was made: every entry's
// type, mode, owner, size, content digest, xattrs, link target, device
// number and hard links, with the stat data (inode, ctime, mtime, link
// count) that lets a check skip reading an entry that has not changed. It
// is kept beside the layer, as <diffID>.seal, and written only after the
// layer is in place and flushed (see CommitLayer).
type seal struct {
	Version int
	// Start is the filesystem's clock when the walk that made the seal
	// began. An entry whose ctime is not older may have changed while it
	// was read, within one tick of the coarse clock: a check reads it
	// again, as git treats a racily clean file.
	Start int64
	// Userns is set when the seal was made in a user namespace (the
	// rootless mode), whose view of owners and file capabilities differs
	// from the host's: only a check in a user namespace compares them.
	Userns  bool
	Entries []sealEntry
}

// sealVersion 2 is the format of seal_codec.go; 1 was encoding/gob's,
// which a layer sealed so is unpacked again for (ErrUnsealed).
const sealVersion = 2

// sealSuffix names a seal beside its layer dir in the layers dir.
const sealSuffix = ".seal"

// sealEntry is one entry of a sealed tree. Path is absolute within the
// layer ("/" is its root).
type sealEntry struct {
	Path string
	// Mode is st_mode: the type and the permission bits.
	Mode     uint32
	UID, GID uint32
	Size     int64
	Rdev     uint64
	Link     string // a symlink's target
	// HardLink is the first path, in walk order, of another entry with
	// the same inode.
	HardLink string
	Digest   digest.Digest // of a regular file's content
	Xattrs   []xattr.Attr
	// The stat data a quick check compares.
	Ino, Nlink   uint64
	Mtime, Ctime int64 // nanoseconds
}

// ErrUnsealed reports an unpacked layer without a seal: made by a mybuild
// older than seals, or by a build that crashed between putting the layer
// in place and sealing it.
var ErrUnsealed = errors.New("unpacked layer has no seal")

// ErrOtherView reports a layer sealed in a user namespace and checked
// outside one, or the other way round: owners and file capabilities look
// different from there, so the check cannot tell.
var ErrOtherView = errors.New("unpacked layer was sealed in another user namespace view")

// sealedXattr reports whether an xattr is part of a seal: all are but
// the host's SELinux label, which relabelling may change and no layer
// carries.
func sealedXattr(name string) bool { return name != "security.selinux" }

func (s *Store) sealPath(diffID digest.Digest) string {
	return s.LayerPath(diffID) + sealSuffix
}

// readSeal reads the seal of a layer; ErrUnsealed when there is none or
// it cannot be read back whole.
func (s *Store) readSeal(diffID digest.Digest) (*seal, error) {
	data, err := readFile(s.sealPath(diffID))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrUnsealed
	}
	if err != nil {
		return nil, fmt.Errorf("read seal of layer %s: %w", diffID, err)
	}
	sl, err := unmarshalSeal(data)
	if err != nil || sl.Version != sealVersion || len(sl.Entries) == 0 {
		return nil, fmt.Errorf("seal of layer %s cannot be read: %w", diffID, ErrUnsealed)
	}
	return sl, nil
}

// writeSeal atomically replaces the seal of a layer. It is not synced: a
// seal that a crash leaves empty or cut short cannot be read back, and its
// layer is then unpacked again (ErrUnsealed); one that a crash leaves as
// it was, over a layer unpacked again since, vouches for nothing, since
// every inode and ctime of the new layer differs from what it holds.
func (s *Store) writeSeal(diffID digest.Digest, sl *seal, opts ...atomicfile.Option) error {
	data := marshalSeal(sl)
	opts = append([]atomicfile.Option{atomicfile.WithTempDir(s.tmp), atomicfile.WithMode(0o600), atomicfile.WithoutSync()}, opts...)
	err := atomicfile.Write(s.sealPath(diffID), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, opts...)
	if err != nil {
		return fmt.Errorf("seal layer %s: %w", diffID, err)
	}
	return nil
}

// removeSeal removes the seal of a layer, if any.
func (s *Store) removeSeal(diffID digest.Digest) error {
	err := os.Remove(s.sealPath(diffID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// isSealName reports whether a name in the layers dir is a seal, not a
// layer.
func isSealName(name string) bool { return strings.HasSuffix(name, sealSuffix) }

// A Problem is one way an entry of the cache differs from what it should
// be.
type Problem struct {
	// Entry names the blob, layer or step record: "layer sha256:...".
	Entry string
	// Path is the path in a layer, when the problem is one entry's.
	Path string
	What string
	// Fix says what a repair did about it.
	Fix string
}

func (p Problem) String() string {
	s := p.Entry + ": "
	if p.Path != "" {
		s += p.Path + ": "
	}
	s += p.What
	if p.Fix != "" {
		s += " (" + p.Fix + ")"
	}
	return s
}

// DamageError is a layer found to differ from its seal.
type DamageError struct {
	DiffID   digest.Digest
	Problems []Problem
}

func (e *DamageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "unpacked layer %s is damaged: ", e.DiffID)
	for i, p := range e.Problems {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Path + ": " + p.What)
	}
	return b.String()
}

// Unwrap makes a damaged layer an ErrCorrupt entry.
func (e *DamageError) Unwrap() error { return ErrCorrupt }
