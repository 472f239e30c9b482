package mountsync

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// extractChunk unpacks the chunks of the top entry name, concatenated in
// r (gzip members whose tars, put together, are one), into the empty
// directory dest. They must hold name and what is below it only. Every entry's parent must be a
// directory the chunk made before it, so that no entry goes through a
// symlink, or out of dest. Owners are set when the process may (root,
// or root of a user namespace); mode and mtime always.
func extractChunk(r io.Reader, dest, name string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	dirs := map[string]bool{".": true}
	type dirTime struct {
		p string
		t time.Time
	}
	var times []dirTime
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		rel := path.Clean(hdr.Name)
		if rel != name && !strings.HasPrefix(rel, name+"/") || !dirs[path.Dir(rel)] {
			return fmt.Errorf("chunk %s: entry %q is out of place", name, hdr.Name)
		}
		p := filepath.Join(dest, filepath.FromSlash(rel))
		if err := extractEntry(tr, hdr, p); err != nil {
			return fmt.Errorf("chunk %s: %s: %w", name, rel, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs[rel] = true
			times = append(times, dirTime{p, hdr.ModTime})
		}
	}
	// Directories last, deepest first: making their entries changed them.
	for i := len(times) - 1; i >= 0; i-- {
		if err := os.Chtimes(times[i].p, times[i].t, times[i].t); err != nil {
			return err
		}
	}
	return nil
}

// extractEntry makes one entry at p, which must not exist.
func extractEntry(tr *tar.Reader, hdr *tar.Header, p string) error {
	mode := os.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(p, 0o700); err != nil {
			return err
		}
	case tar.TypeReg:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscallNoFollow, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
		return chown(p, hdr)
	default:
		return nil // never written by writeChunk
	}
	if err := chown(p, hdr); err != nil {
		return err
	}
	if hdr.Mode&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	return os.Chtimes(p, hdr.ModTime, hdr.ModTime)
}

// chown gives p the entry's owner when the process may; a normal user
// keeps the files as its own.
func chown(p string, hdr *tar.Header) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := os.Lchown(p, hdr.Uid, hdr.Gid); err != nil && !errors.Is(err, os.ErrPermission) && !errors.Is(err, errInvalid) {
		return err
	}
	return nil
}

// syscallNoFollow refuses to open a symlink; errInvalid is what chown
// gives for an id the user namespace does not map.
const syscallNoFollow = syscall.O_NOFOLLOW

var errInvalid = syscall.EINVAL
