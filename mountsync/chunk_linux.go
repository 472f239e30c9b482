package mountsync

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry"
)

// pieces says where a top entry's tar is cut into chunks: after an entry
// whose path hashes to a multiple of every, once the chunk holds min
// bytes, and at max bytes whatever the entry. The cuts depend on the
// files, not on offsets, so a file added or changed changes the chunk
// it is in (and at worst the next), not the ones after it: a Go module
// cache of hundreds of MB in which one module changed uploads a few MB.
type pieces struct {
	min, max int64
	every    uint32
}

var defaultPieces = pieces{min: 4 << 20, max: 64 << 20, every: 256}

// cut reports whether a chunk holding n bytes ends after the entry rel.
func (pc pieces) cut(rel string, n int64) bool {
	if n >= pc.max {
		return true
	}
	sum := sha256.Sum256([]byte(rel))
	return n >= pc.min && binary.BigEndian.Uint32(sum[:4])%pc.every == 0
}

// topEntries lists the names at the top of dir, sorted (as os.ReadDir
// gives them).
func topEntries(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// fingerprint digests the stat data of everything under dir/name (path,
// mode, owner, size, mtime, ctime, inode): equal fingerprints mean
// nothing changed, as a stat cache decides, without reading any file.
func fingerprint(dir, name string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(filepath.Join(dir, name), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if st == nil {
			return fmt.Errorf("%s: no stat data", p)
		}
		fmt.Fprintf(h, "%q %o %d:%d %d %d %d %d\n", p, fi.Mode(), st.Uid, st.Gid, fi.Size(),
			fi.ModTime().UnixNano(), time.Unix(st.Ctim.Unix()).UnixNano(), st.Ino)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("fingerprint %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// chunkWriter writes the chunks of one top entry into the store: each a
// gzip member holding whole tar entries, with no end-of-archive marker,
// so that the chunks, concatenated, are one gzip'd tar.
type chunkWriter struct {
	store  *cache.Store
	name   string
	pieces pieces

	w    *cache.BlobWriter
	zw   *gzip.Writer
	tw   *tar.Writer
	n    int64 // tar bytes in the current chunk
	made []registry.MountChunk
}

// makeChunks writes the chunks of dir/name, the same bytes for the same
// files: entries in name order, PAX headers with the mode, numeric owner,
// size and mtime only. Regular files, directories and symlinks are kept
// (a hard link as a copy); sockets, pipes and devices are left out:
// tools do not keep such things in their caches. On failure, the chunks
// made so far are returned too, for the caller to delete.
func makeChunks(store *cache.Store, dir, name string, pc pieces) ([]registry.MountChunk, error) {
	cw := &chunkWriter{store: store, name: name, pieces: pc}
	defer cw.abort()
	err := filepath.WalkDir(filepath.Join(dir, name), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return cw.add(p, filepath.ToSlash(rel))
	})
	if err == nil {
		err = cw.finish()
	}
	if err != nil {
		return cw.made, fmt.Errorf("chunk %s: %w", name, err)
	}
	return cw.made, nil
}

// add writes the entry of the file at p, named rel, then ends the chunk
// if it is a place to cut.
func (cw *chunkWriter) add(p, rel string) error {
	if cw.tw == nil {
		w, err := cw.store.NewBlobWriter()
		if err != nil {
			return err
		}
		zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if err != nil {
			w.Abort()
			return err
		}
		cw.w, cw.zw, cw.tw, cw.n = w, zw, tar.NewWriter(zw), 0
	}
	n, err := writeEntry(cw.tw, p, rel)
	if err != nil {
		return err
	}
	cw.n += n
	if cw.pieces.cut(rel, cw.n) {
		return cw.finish()
	}
	return nil
}

// finish ends the current chunk, if any, and stores it.
func (cw *chunkWriter) finish() error {
	if cw.tw == nil {
		return nil
	}
	tw, zw, w := cw.tw, cw.zw, cw.w
	cw.tw, cw.zw, cw.w = nil, nil, nil
	defer w.Abort()
	if cw.n == 0 {
		return nil // nothing a chunk keeps: a socket, a pipe, a device
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	d := w.Digest()
	if err := w.Commit(d); err != nil {
		return err
	}
	cw.made = append(cw.made, registry.MountChunk{Name: cw.name, Digest: d, Size: w.Size()})
	return nil
}

func (cw *chunkWriter) abort() {
	if cw.w != nil {
		cw.w.Abort()
	}
}

// writeEntry writes the tar entry of the file at p, named rel, and says
// how many bytes of content it holds.
func writeEntry(tw *tar.Writer, p, rel string) (int64, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0, err
	}
	hdr := &tar.Header{Name: rel, Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime(), Format: tar.FormatPAX}
	for bit, m := range map[fs.FileMode]int64{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if fi.Mode()&bit != 0 {
			hdr.Mode |= m
		}
	}
	if st, _ := fi.Sys().(*syscall.Stat_t); st != nil {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	}
	switch {
	case fi.Mode().IsRegular():
		hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
	case fi.IsDir():
		hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
	case fi.Mode()&fs.ModeSymlink != 0:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = os.Readlink(p); err != nil {
			return 0, err
		}
	default:
		return 0, nil
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return 0, err
	}
	if hdr.Typeflag != tar.TypeReg {
		return 512, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return 0, fmt.Errorf("%s: %w", rel, err)
	}
	return 512 + hdr.Size, nil
}
