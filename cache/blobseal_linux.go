package cache

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/atomicfile"
)

// blobSealsDir holds a blob seal for each blob checked whole: the stat
// data the blob had then. A blob whose stat data still match was not
// written to since (a write moves its ctime, which no one can set back),
// and is read without hashing it again, as an unpacked layer is checked
// (see CheckLayer). mybuild cache verify hashes every blob all the same.
const blobSealsDir = "blobseals"

// blobStat is the stat data a blob seal holds.
type blobStat struct {
	ino          uint64
	size         int64
	mtime, ctime int64 // nanoseconds
}

func (b blobStat) String() string {
	return fmt.Sprintf("%d %d %d %d\n", b.ino, b.size, b.mtime, b.ctime)
}

func statOfBlob(fi os.FileInfo) (blobStat, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return blobStat{}, false
	}
	return blobStat{ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}, true
}

func (s *Store) blobSealPath(d digest.Digest) string {
	return filepath.Join(s.root, blobSealsDir, d.Encoded())
}

// sealBlob records fi, the stat data of blob d, whose content was just
// checked whole. It is best effort: without a seal, a blob is hashed as
// it is read. A blob not flushed yet is sealed by the flush (syncFS),
// not before: its content may still be lost.
func (s *Store) sealBlob(d digest.Digest, fi os.FileInfo) {
	if !s.isUnflushed(d) {
		s.writeBlobSeal(d, fi)
	}
}

// writeBlobSeal writes the seal of blob d, of stat data fi.
func (s *Store) writeBlobSeal(d digest.Digest, fi os.FileInfo) {
	st, ok := statOfBlob(fi)
	if !ok {
		return
	}
	// Not synced: after a crash, a seal that is empty or lost only has
	// the blob hashed again.
	atomicfile.Write(s.blobSealPath(d), func(w io.Writer) error {
		_, err := io.WriteString(w, st.String())
		return err
	}, atomicfile.WithTempDir(s.tmp), atomicfile.WithMode(0o600), atomicfile.WithoutSync())
}

// sealedBlob tells whether blob d, whose stat data are fi, has not
// changed since it was sealed. As git does with a racily clean file, a
// seal written within the tick of the filesystem's coarse clock in which
// the blob last changed is not trusted: a write in that tick after the
// seal's stat would have left the ctime as it was.
func (s *Store) sealedBlob(d digest.Digest, fi os.FileInfo) bool {
	st, ok := statOfBlob(fi)
	if !ok {
		return false
	}
	f, err := openFile(s.blobSealPath(d), unix.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	sfi, err := f.Stat()
	if err != nil {
		return false
	}
	sealed, ok := statOfBlob(sfi)
	if !ok || st.ctime >= sealed.ctime {
		return false
	}
	data := make([]byte, 128)
	n, _ := io.ReadFull(f, data)
	return string(data[:n]) == st.String()
}

// unsealBlob forgets the seal of blob d, which is deleted.
func (s *Store) unsealBlob(d digest.Digest) {
	os.Remove(s.blobSealPath(d))
}
