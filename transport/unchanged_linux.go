package transport

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/mybuild/mybuild/cache"
	digest "github.com/opencontainers/go-digest"
)

// An archive a build writes (oci-archive:, docker-archive:) is not
// written again when the file at its path is the one mybuild wrote there
// last, untouched since, and would be written the same: the bytes of an
// archive follow from the binary that writes it, the reference, and the
// manifest or index, whose digests cover every blob. A warm rebuild into
// the same file then costs no copy of its blobs and no flush. The store
// keeps, for each archive it wrote, that key and the file's stat data
// (device, inode, size, mtime, ctime: a change of the file changes its
// ctime, which nothing sets back), in a state file named for its path.

// archiveSeal is what the store keeps of an archive it wrote.
type archiveSeal struct {
	Key string `json:"key"`
	// Digest is what the write returned: the digest of the manifest (of
	// the uncompressed image, in a docker-archive) or of the index.
	Digest       digest.Digest `json:"digest"`
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64 // nanoseconds
}

// exeID is the Go build ID of the running binary, which changes with
// any change of its code; "" when it cannot be read, and then every
// archive is written.
var exeID = sync.OnceValue(func() string {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil {
		return ""
	}
	data, err := s.Data()
	if err != nil || len(data) == 0 {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
})

// archiveKey is the key of what ref would hold: parts are the JSON of
// the manifest or index, and what else the archive takes from the image.
// "" when ref is no archive, or the binary has no build ID.
func archiveKey(ref Ref, parts ...any) string {
	if (ref.Transport != OCIArchive && ref.Transport != DockerArchive) || exeID() == "" {
		return ""
	}
	data, err := json.Marshal(append([]any{exeID(), ref.String()}, parts...))
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// archiveSealName is the state file of the archive at path.
func archiveSealName(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return "archive-" + hex.EncodeToString(sum[:16]), nil
}

// archiveInPlace reports whether the file at path is the archive of
// key that mybuild wrote, untouched since, and the digest its write
// returned.
func archiveInPlace(store *cache.Store, path, key string) (digest.Digest, bool) {
	if key == "" || store == nil {
		return "", false
	}
	name, err := archiveSealName(path)
	if err != nil {
		return "", false
	}
	data, err := os.ReadFile(store.StatePath(name))
	if err != nil {
		return "", false
	}
	var was archiveSeal
	if json.Unmarshal(data, &was) != nil || was.Key != key || was.Digest.Validate() != nil {
		return "", false
	}
	now, ok := statArchive(path)
	now.Key, now.Digest = key, was.Digest
	return was.Digest, ok && now == was
}

// saveArchive returns the digest of the archive of key when it is in
// place (archiveInPlace). Else write writes it (or, with key "", what ref
// names) to a temp file beside ref.Path, which is renamed over ref.Path
// and sealed (sealArchive) when the file at the path is still that one:
// the archive of a build writing the same path at the same time is never
// taken for this one's. write's ref names the temp file. Errors name
// ref.
func saveArchive(store *cache.Store, ref Ref, key string, write func(Ref) (digest.Digest, error)) (digest.Digest, error) {
	if d, ok := archiveInPlace(store, ref.Path, key); ok {
		return d, nil
	}
	d, err := writeArchive(store, ref, key, write)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", ref, err)
	}
	return d, nil
}

func writeArchive(store *cache.Store, ref Ref, key string, write func(Ref) (digest.Digest, error)) (digest.Digest, error) {
	if key == "" {
		return write(ref)
	}
	// Not atomicfile.Write: the archive is written by image, by path, and
	// atomically already (atomicfile, synced), to the temp name reserved
	// here. The second rename is what lets the seal name the inode this
	// write put at ref.Path: a stat after atomicfile.Write could see the
	// archive of a build writing the same path at the same time, and
	// atomicfile does not show its temp file.
	f, err := os.CreateTemp(filepath.Dir(ref.Path), "."+filepath.Base(ref.Path)+".mybuild-")
	if err != nil {
		return "", err
	}
	f.Close()
	tmp := ref
	tmp.Path = f.Name()
	d, err := write(tmp)
	if err != nil {
		os.Remove(tmp.Path)
		return "", err
	}
	return d, placeArchive(store, ref, key, tmp.Path, d)
}

// placeArchive renames the archive of key written to tmp, beside
// ref.Path, over ref.Path, and seals it there.
func placeArchive(store *cache.Store, ref Ref, key, tmp string, d digest.Digest) error {
	st, ok := statArchive(tmp)
	if err := os.Rename(tmp, ref.Path); err != nil {
		os.Remove(tmp)
		return err
	}
	if ok && key != "" {
		sealArchive(store, ref.Path, key, d, st.Ino)
	}
	return nil
}

// sealArchive records that the file at path, inode ino, is the archive
// of key, just written (its write returned written), once the
// filesystem's clock has passed its ctime: a change in the same tick
// would not show. Nothing is recorded when the file at path is another
// one, or changed meanwhile. An error only costs the next build a write.
func sealArchive(store *cache.Store, path, key string, written digest.Digest, ino uint64) {
	name, err := archiveSealName(path)
	if err != nil || store == nil {
		return
	}
	os.Remove(store.StatePath(name))
	clock, err := store.ClockAfter(path)
	st, ok := statArchive(path)
	if !ok || err != nil || st.Ino != ino || st.Ctime >= clock {
		return
	}
	st.Key, st.Digest = key, written
	// Unflushed: the seal vouches for an inode whose data was flushed
	// before it was renamed into place, and whose stat data a reader
	// compares. A crash that loses the rename, or the seal, costs a write.
	if data, err := json.Marshal(st); err == nil {
		store.WriteStateUnflushed(name, data)
	}
}

// statArchive is the stat data of the regular file at path.
func statArchive(path string) (archiveSeal, bool) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return archiveSeal{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return archiveSeal{}, false
	}
	return archiveSeal{Dev: st.Dev, Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true
}
