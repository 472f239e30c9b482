package overlay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds symlink resolution, as the kernel's MAXSYMLINKS does.
const maxSymlinks = 40

// ErrTooManyLinks is returned when resolving a path meets too many symlinks.
var ErrTooManyLinks = errors.New("too many levels of symbolic links")

// Stack is a read-only view of unpacked layer directories stacked as
// overlayfs would stack them. It answers lookups without mounting anything.
type Stack struct {
	dirs []string // newest first, as in lowerdir=
}

// NewStack returns the merged view of dirs, which are ordered newest first.
func NewStack(dirs ...string) *Stack {
	return &Stack{dirs: dirs}
}

// Dirs returns the layer directories, newest first.
func (s *Stack) Dirs() []string { return s.dirs }

// Entry is one file found in the merged view.
type Entry struct {
	fs.FileInfo
	// HostPath is where the file lives on the host, inside one layer directory.
	HostPath string
}

// Lstat finds p (an absolute path inside the root, not following a final
// symlink) in the merged view. Intermediate components are not resolved: use
// Resolve first when p may pass through symlinks. It returns an error
// satisfying errors.Is(err, fs.ErrNotExist) when p does not exist.
func (s *Stack) Lstat(p string) (Entry, error) {
	p = clean(p)
	for _, dir := range s.dirs {
		host := filepath.Join(dir, p)
		fi, err := os.Lstat(host)
		if err == nil {
			if IsWhiteout(fi) {
				return Entry{}, notExist(p)
			}
			if p != "/" || fi.IsDir() {
				return Entry{FileInfo: fi, HostPath: host}, nil
			}
		} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir) {
			return Entry{}, fmt.Errorf("lstat %s: %w", host, err)
		}
		blocked, err := hidesBelow(dir, p)
		if err != nil {
			return Entry{}, err
		}
		if blocked {
			return Entry{}, notExist(p)
		}
	}
	return Entry{}, notExist(p)
}

// hidesBelow reports whether layer dir hides p in the layers below it: a
// parent of p is a whiteout, a non-directory, or an opaque directory.
func hidesBelow(dir, p string) (bool, error) {
	if p == "/" {
		return false, nil
	}
	parts := strings.Split(p[1:], "/")
	cur := dir
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("lstat %s: %w", cur, err)
		}
		if IsWhiteout(fi) {
			return true, nil
		}
		if i == len(parts)-1 {
			return false, nil
		}
		if !fi.IsDir() {
			return true, nil
		}
		opaque, err := IsOpaque(cur)
		if err != nil {
			return false, err
		}
		if opaque {
			return true, nil
		}
	}
	return false, nil
}

// Resolve follows every symlink in p, including the last component, without
// ever leaving the root: ".." stops at "/" and absolute link targets start
// again from the root, as when the tree is the root of a container. The
// result is clean and absolute. Components that do not exist are kept as
// they are.
func (s *Stack) Resolve(p string) (string, error) {
	return s.resolve(p, true)
}

// ResolveParent is Resolve for every component but the last, which is kept
// even when it is a symlink.
func (s *Stack) ResolveParent(p string) (string, error) {
	return s.resolve(p, false)
}

func (s *Stack) resolve(p string, followLast bool) (string, error) {
	pending := splitPath(p)
	resolved := "/"
	links := 0
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, part)
		if len(pending) == 0 && !followLast {
			return next, nil
		}
		e, err := s.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			resolved = next
			continue
		}
		if err != nil {
			return "", err
		}
		if e.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		links++
		if links > maxSymlinks {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: ErrTooManyLinks}
		}
		target, err := os.Readlink(e.HostPath)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			resolved = "/"
		}
		pending = append(splitPath(target), pending...)
	}
	return resolved, nil
}

// Open opens the regular file at p, following symlinks inside the root.
func (s *Stack) Open(p string) (*os.File, error) {
	r, err := s.Resolve(p)
	if err != nil {
		return nil, err
	}
	e, err := s.Lstat(r)
	if err != nil {
		return nil, err
	}
	return os.Open(e.HostPath)
}

// ReadFile reads the file at p, following symlinks inside the root.
func (s *Stack) ReadFile(p string) ([]byte, error) {
	f, err := s.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: p, Err: errors.New("not a regular file")}
	}
	buf := make([]byte, st.Size())
	_, err = f.ReadAt(buf, 0)
	if err != nil && st.Size() > 0 {
		return nil, err
	}
	return buf, nil
}

func splitPath(p string) []string {
	var parts []string
	for _, part := range strings.Split(p, "/") {
		if part != "" {
			parts = append(parts, part)
		}
	}
	return parts
}

func clean(p string) string {
	return path.Clean("/" + p)
}

func notExist(p string) error {
	return &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
}
