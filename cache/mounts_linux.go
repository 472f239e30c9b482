package cache

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

const lockShared = unix.LOCK_SH

// lockExclusive is for whoever deletes entries other builds may use.
const lockExclusive = unix.LOCK_EX

// unmountUnder detaches every mount at or below dir. mybuild mounts only
// inside each step's private mount namespace, so there should never be
// one; this is the safety net for anything else.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var targets []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			targets = append(targets, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// Deepest first.
	sort.Sort(sort.Reverse(sort.StringSlice(targets)))
	for _, t := range targets {
		if err := unix.Unmount(t, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			return fmt.Errorf("unmount %s: %w", t, err)
		}
	}
	return nil
}

// unescapeMountPath undoes the octal escapes of /proc/self/mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// syncFS flushes the filesystem that holds the store, so that everything
// written so far is durable before a record that refers to it; then it
// seals the blobs that were moved into place unflushed before it began.
func (s *Store) syncFS() error {
	bs := s.listUnflushed()
	f, err := os.Open(s.root)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		s.dropUnflushed(bs, false) // never sealed: hashed when read
		return fmt.Errorf("syncfs %s: %w", s.root, err)
	}
	s.dropUnflushed(bs, true)
	return nil
}

// diskUsage is the space a file takes on disk, not its apparent size.
func diskUsage(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		n := st.Blocks * 512
		if st.Nlink > 1 && !fi.IsDir() {
			// Its share: unpacked layers share the files a COPY after an
			// edit linked, and the space is counted once in all.
			n /= int64(st.Nlink)
		}
		return n
	}
	return fi.Size()
}

// renameNoReplace renames old to new unless new exists, even as an empty
// directory, which rename(2) would replace: the error is then
// os.ErrExist.
//
//	mv --no-clobber old new   (renameat2 RENAME_NOREPLACE)
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) {
		// A filesystem without RENAME_NOREPLACE: check, then rename,
		// which leaves a small window.
		if _, serr := os.Lstat(new); serr == nil {
			err = unix.EEXIST
		} else {
			return os.Rename(old, new)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
	return nil
}
