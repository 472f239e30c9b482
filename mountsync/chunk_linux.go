package mountsync

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry"
)

// topEntries lists the names at the top of dir, sorted.
func topEntries(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	sort.Strings(names)
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

// makeChunk writes the chunk of dir/name into the store.
func makeChunk(store *cache.Store, dir, name string) (registry.MountChunk, error) {
	w, err := store.NewBlobWriter()
	if err != nil {
		return registry.MountChunk{}, err
	}
	defer w.Abort()
	if err := writeChunk(w, dir, name); err != nil {
		return registry.MountChunk{}, fmt.Errorf("chunk %s: %w", name, err)
	}
	d := w.Digest()
	if err := w.Commit(d); err != nil {
		return registry.MountChunk{}, err
	}
	return registry.MountChunk{Name: name, Digest: d, Size: w.Size()}, nil
}

// writeChunk writes dir/name as a gzip'd tar, the same bytes for the
// same files: entries in name order, PAX headers with the mode, numeric
// owner, size and mtime only. Regular files, directories and symlinks are
// kept (a hard link as a copy); sockets, pipes and devices are left out:
// tools do not keep such things in their caches.
func writeChunk(w io.Writer, dir, name string) (err error) {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(filepath.Join(dir, name), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return writeEntry(tw, p, filepath.ToSlash(rel))
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// writeEntry writes the tar entry of the file at p, named rel.
func writeEntry(tw *tar.Writer, p, rel string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	hdr := &tar.Header{Name: rel, Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime(), Format: tar.FormatPAX}
	if fi.Mode()&fs.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	if st != nil {
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
			return err
		}
	default:
		return nil
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return nil
}
