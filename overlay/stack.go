package overlay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// maxSymlinks bounds symlink resolution, as the kernel's MAXSYMLINKS does.
const maxSymlinks = 40

// ErrTooManyLinks is returned when resolving a path meets too many symlinks.
var ErrTooManyLinks = errors.New("too many levels of symbolic links")

// Stack is a read-only view of unpacked layer directories stacked as
// overlayfs would stack them. It answers lookups without mounting anything.
type Stack struct {
	dirs  []string // newest first, as in lowerdir=
	reads *Reads   // nil unless Recording
	memo  *lookups // nil unless Memoized
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
//
// No symlink is ever followed on the host: each layer is searched one
// component at a time, so a symlink in a lower layer (a -> /etc) can never
// make "/a/passwd" answer with a host file.
func (s *Stack) Lstat(p string) (Entry, error) {
	p = clean(p)
	s.reads.note(p, ReadLookup)
	if s.memo != nil {
		return s.memo.lstat(p, s.lstat)
	}
	return s.lstat(p)
}

func (s *Stack) lstat(p string) (Entry, error) {
	parts := splitPath(p)
	for _, dir := range s.dirs {
		e, found, hidden, err := lookupIn(dir, parts)
		if err != nil {
			return Entry{}, err
		}
		if found {
			return e, nil
		}
		if hidden {
			return Entry{}, notExist(p)
		}
	}
	return Entry{}, notExist(p)
}

// lookupIn looks the path made of parts up in one layer dir. found says the
// layer has it; hidden says the layer hides it from the layers below: a
// whiteout at or above it, a parent that is not a directory, or an opaque
// parent.
func lookupIn(dir string, parts []string) (e Entry, found, hidden bool, err error) {
	cur := dir
	var parents []string
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			hidden, err := anyOpaque(parents)
			return Entry{}, false, hidden, err
		}
		if err != nil {
			return Entry{}, false, false, fmt.Errorf("lstat %s: %w", cur, err)
		}
		if IsWhiteout(fi) {
			return Entry{}, false, true, nil
		}
		if i == len(parts)-1 {
			return Entry{FileInfo: fi, HostPath: cur}, true, false, nil
		}
		if !fi.IsDir() {
			return Entry{}, false, true, nil
		}
		parents = append(parents, cur)
	}
	// The root: every layer dir is one, the newest one's metadata shows.
	fi, err := os.Lstat(dir)
	if err != nil {
		return Entry{}, false, false, err
	}
	return Entry{FileInfo: fi, HostPath: dir}, true, false, nil
}

func anyOpaque(dirs []string) (bool, error) {
	for _, d := range dirs {
		opaque, err := IsOpaque(d)
		if err != nil || opaque {
			return opaque, err
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

// ResolveUnder is ResolveParent with base as the root: ".." stops at base,
// and absolute symlink targets start again from base, as when a tar is
// unpacked chrooted into base (ADD does that).
func (s *Stack) ResolveUnder(base, rel string) (string, error) {
	return s.resolveFrom(clean(base), rel, false)
}

func (s *Stack) resolve(p string, followLast bool) (string, error) {
	return s.resolveFrom("/", p, followLast)
}

func (s *Stack) resolveFrom(base, p string, followLast bool) (string, error) {
	pending := splitPath(p)
	resolved := base
	links := 0
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case ".":
			continue
		case "..":
			if resolved != base {
				resolved = path.Dir(resolved)
			}
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
			resolved = base
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
	s.reads.note(r, ReadContent)
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

// ReadDir lists the directory p (resolved: no symlink in it) as the merged
// view shows it: the entries of every layer down to the first one that
// hides what is below (an opaque dir, or a layer where p is not a dir),
// minus whiteouts, each name once, from the newest layer that has it,
// sorted by name.
func (s *Stack) ReadDir(p string) ([]Entry, error) {
	p = clean(p)
	s.reads.note(p, ReadList)
	top, err := s.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !top.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: p, Err: syscall.ENOTDIR}
	}
	parts := splitPath(p)
	seen := map[string]bool{}
	var out []Entry
	for _, dir := range s.dirs {
		e, found, hidden, err := lookupIn(dir, parts)
		if err != nil {
			return nil, err
		}
		if hidden {
			break
		}
		if !found {
			continue
		}
		if !e.IsDir() {
			break
		}
		names, err := readNames(e.HostPath)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			host := filepath.Join(e.HostPath, name)
			fi, err := os.Lstat(host)
			if err != nil {
				return nil, err
			}
			if !IsWhiteout(fi) {
				out = append(out, Entry{FileInfo: fi, HostPath: host})
			}
		}
		opaque, err := IsOpaque(e.HostPath)
		if err != nil {
			return nil, err
		}
		if opaque {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
