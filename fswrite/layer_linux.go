package fswrite

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// Layer writes files straight into the upper dir of a new layer, without a
// mount: what a COPY, ADD or WORKDIR adds on top of the layers below, or
// an image layer being extracted. A directory that exists below and must
// hold new entries is copied up with its metadata, as overlayfs would.
// Paths are absolute in the layer, "/" being the upper dir.
type Layer struct {
	upper string
	lower *overlay.Stack
	view  *overlay.Stack // upper on top of lower
	// dirTimes are the times of directories, set by Finish once nothing
	// more is made in them.
	dirTimes map[string]times
	// dirTime, unless zero, is the time of the directories created.
	dirTime time.Time
	// fresh holds the directories this writer created where nothing
	// existed below: inside them only the upper dir needs looking at.
	fresh map[string]bool
	// links maps a source inode to its first copy here, for further hard
	// links to it.
	links map[fileID]copied
	// carried says which xattrs a copy from below takes.
	carried func(name string) bool
	// lenient says which failures of setting metadata to pass over.
	lenient lenience
	// skipDevices, when set, is told of the device nodes not made.
	skipDevices func(p string)
	// verify makes Finish check that each directory is still one, reached
	// through no symlink: set once a tar may have replaced one.
	verify bool
	buf    []byte // for sparse writes, while extracting
	// digests, when set, takes the content digest of every regular file
	// written (Extract).
	digests func(ContentDigest)
	// parents holds what mkParents found for each dir, until an entry is
	// removed: only a removal can turn a directory into anything else.
	parents map[string]string
	// copies, with WithParallelCopies, runs the copies of new regular
	// files until Flush.
	copies *errgroup.Group
	// reuse, with WithReuse, finds a file of an earlier layer to link
	// instead of copying.
	reuse Reuse
	// untarFilter, with WithUntarFilter, says which entries Untar makes.
	untarFilter func(h *tar.Header) (bool, error)
}

type times struct{ atime, mtime time.Time }

type fileID struct{ dev, ino uint64 }

// copied is a copy made in this layer, and the inode it was made as: a
// later entry may have replaced it.
type copied struct {
	host string
	id   fileID
}

// LayerOption configures a Layer.
type LayerOption func(*Layer)

// WithDirTime gives the directories the writer creates t as their times,
// rather than the time they were last written to: the same COPY in the
// builds of several platforms then makes the same bytes, stored once.
func WithDirTime(t time.Time) LayerOption {
	return func(l *Layer) { l.dirTime = t }
}

// WithParallelCopies lets Copy return before a new regular file is
// written: its data and metadata are copied on a few goroutines, as many
// as there are CPUs, and Flush (which Finish calls) waits for them and
// reports their first error. The kernel's work of creating files then
// takes every CPU. Until Flush, the caller must not copy to the same path
// twice: the entries of one walk of a tree are fine.
func WithParallelCopies() LayerOption {
	return func(l *Layer) {
		l.copies = &errgroup.Group{}
		l.copies.SetLimit(runtime.GOMAXPROCS(0))
	}
}

// Reuse finds a regular file of an earlier layer that is exactly what a
// copy is about to write at p (absolute in the layer): the metadata m
// and the content d. It returns the file's host path, on the layer's
// filesystem, or false.
type Reuse func(p string, m Meta, d digest.Digest) (host string, ok bool)

// WithReuse lets Copy hard-link a regular file that reuse finds rather
// than write it: the same COPY after an edit then writes only what
// changed. A copy whose source has other links, or xattrs, is always
// written, and so is one whose link fails. Nothing else of the writer
// may touch a linked file: Copy replaces a file by removing its name
// first, and Untar, which links an archive's hard links and sets their
// metadata, refuses to run.
func WithReuse(reuse Reuse) LayerOption {
	return func(l *Layer) { l.reuse = reuse }
}

// WithOwnersIfPermitted gives each file its owner only when the kernel
// lets the process: a chown refused with EPERM (a normal user, who may not
// give files away) or EINVAL (an id the user namespace does not map)
// leaves the file the process's own, as GNU tar leaves a normal user's.
// Any other failure is still an error. It is for a tree that is the
// user's own (a cache mount shared through a registry), not for a layer,
// whose owners must hold.
func WithOwnersIfPermitted() LayerOption {
	return func(l *Layer) { l.lenient.owners = true }
}

// WithUntarFilter has Untar show keep each header of the archive before
// it makes anything of it: an entry keep says false to is skipped, and an
// error of keep stops Untar, which names the entry. It lets a caller hold
// an archive to rules of its own (which names, which types) without
// writing the files itself.
func WithUntarFilter(keep func(h *tar.Header) (bool, error)) LayerOption {
	return func(l *Layer) { l.untarFilter = keep }
}

// Flush waits for the copies Copy left running (WithParallelCopies), and
// returns the first error among them.
func (l *Layer) Flush() error {
	if l.copies == nil {
		return nil
	}
	return l.copies.Wait()
}

// NewLayer returns a writer of the layer dir upper over lower. Copies from
// below take the xattrs a layer carries (xattr.Carried).
func NewLayer(upper string, lower *overlay.Stack, opts ...LayerOption) *Layer {
	l := &Layer{
		upper:    upper,
		lower:    lower,
		view:     lower.Above(upper),
		dirTimes: map[string]times{},
		fresh:    map[string]bool{},
		links:    map[fileID]copied{},
		carried:  xattr.Carried,
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

func (l *Layer) host(p string) string { return filepath.Join(l.upper, p) }

// inUpper is host's path in the layer ("/" for the upper dir itself), or
// false when host lies outside the upper dir. The upper dir may be "/"
// itself, when building in place.
func (l *Layer) inUpper(host string) (string, bool) {
	return within(l.upper, host)
}

// within is host's path inside the tree at root ("/" for root itself),
// or false when host lies outside it. root and host are clean and
// absolute.
func within(root, host string) (string, bool) {
	if host == root {
		return "/", true
	}
	if root == "/" {
		return host, strings.HasPrefix(host, "/")
	}
	rel, ok := strings.CutPrefix(host, root+"/")
	return "/" + rel, ok
}

// Resolve follows every symlink in p in the merged view, inside its root
// (see overlay.Stack.Resolve).
func (l *Layer) Resolve(p string) (string, error) { return l.view.Resolve(p) }

// Lookup reports what is at p (resolved) in the merged view, nil if
// nothing.
func (l *Layer) Lookup(p string) (*overlay.Entry, error) {
	if l.fresh[path.Dir(p)] {
		fi, err := os.Lstat(l.host(p))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &overlay.Entry{FileInfo: fi, HostPath: l.host(p)}, nil
	}
	e, err := l.view.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// MkdirAll makes the directory p (resolved) exist. Directories it creates
// get perm and the owner o; existing ones keep their metadata, copied up.
// A non-directory in the way is an error.
func (l *Layer) MkdirAll(p string, perm fs.FileMode, o Owner) error {
	if p == "/" {
		return nil
	}
	e, err := l.Lookup(p)
	if err != nil {
		return err
	}
	if e != nil {
		if !e.IsDir() {
			return fmt.Errorf("cannot copy to non-directory: %s", p)
		}
		return l.copyUp(p)
	}
	if err := l.MkdirAll(path.Dir(p), perm, o); err != nil {
		return err
	}
	if err := l.copyUp(path.Dir(p)); err != nil {
		return err
	}
	m := Meta{Owner: o, Mode: fs.ModeDir | perm&^fs.ModeType, Mtime: l.dirTime}
	if err := mknode(l.host(p), m, ""); err != nil {
		return err
	}
	l.fresh[p] = true
	return l.setMeta(p, m)
}

// copyUp makes sure the directory p, which exists in the view, exists in
// the upper dir too, with its metadata.
func (l *Layer) copyUp(p string) error {
	if p == "/" {
		return nil
	}
	if _, err := os.Lstat(l.host(p)); err == nil {
		return nil
	}
	if err := l.copyUp(path.Dir(p)); err != nil {
		return err
	}
	e, err := l.lower.Lstat(p)
	if err != nil {
		return err
	}
	return l.copyDir(p, e)
}

// copyDir makes the directory p, whose parent exists in the upper dir, a
// copy of the directory e from below: its owner, mode, the xattrs l
// carries, and times.
func (l *Layer) copyDir(p string, e overlay.Entry) error {
	m, err := MetaOf(e.HostPath, e.FileInfo, l.carried)
	if err != nil {
		return err
	}
	if err := mknode(l.host(p), m, ""); err != nil {
		return err
	}
	return l.setMeta(p, m)
}

// setMeta applies m to p; a directory's times wait for Finish, since
// making entries in it changes its mtime.
func (l *Layer) setMeta(p string, m Meta) error {
	if m.Mode.IsDir() && !m.Mtime.IsZero() {
		l.dirTimes[p] = times{atime: m.Atime, mtime: m.Mtime}
		m.Atime, m.Mtime = time.Time{}, time.Time{}
	}
	return apply(pathTarget(l.host(p)), m, l.lenient)
}

// Finish sets the times of the directories written to, deepest first, now
// that nothing more is made in them. After a tar, a directory replaced
// since, or now reached through a symlink, is left alone.
func (l *Layer) Finish() error {
	if err := l.Flush(); err != nil {
		return err
	}
	ps := make([]string, 0, len(l.dirTimes))
	for p := range l.dirTimes {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b string) int {
		if d := strings.Count(b, "/") - strings.Count(a, "/"); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, p := range ps {
		h := l.host(p)
		if l.verify && !l.isDir(p) {
			continue
		}
		t := l.dirTimes[p]
		if t.atime.IsZero() {
			t.atime = t.mtime
		}
		if err := pathTarget(h).utimes(timespec(t.atime), timespec(t.mtime)); err != nil {
			return err
		}
	}
	clear(l.dirTimes)
	return nil
}

// isDir reports whether p is a directory of the upper dir, reached through
// no symlink.
func (l *Layer) isDir(p string) bool {
	h := l.host(p)
	if resolved, err := securejoin.SecureJoin(l.upper, p); err != nil || resolved != h {
		return false
	}
	fi, err := os.Lstat(h)
	return err == nil && fi.IsDir()
}

// idOf is the inode of the file at host.
func idOf(host string) (fileID, bool) {
	fi, err := os.Lstat(host)
	if err != nil {
		return fileID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: st.Dev, ino: st.Ino}, true
}

// linkTo returns the copy of the inode id made earlier, if it is still
// there.
func (l *Layer) linkTo(id fileID) (string, bool) {
	c, ok := l.links[id]
	if !ok {
		return "", false
	}
	got, ok := idOf(c.host)
	return c.host, ok && got == c.id
}

// remember records host as the copy of the inode id.
func (l *Layer) remember(id fileID, host string) {
	if got, ok := idOf(host); ok {
		l.links[id] = copied{host: host, id: got}
	}
}
