package fswrite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/overlay"
)

// Stage is the root filesystem of a stage or image, as COPY --from reads
// it: the source side of Layer.Copy. Paths are absolute in that root, and
// symlinks resolve inside it. It is a buildcontext.Tree.
type Stage struct {
	stack *overlay.Stack
}

var _ buildcontext.Tree = Stage{}

// NewStage returns the tree of the layers stack.
func NewStage(stack *overlay.Stack) Stage { return Stage{stack: stack} }

// Resolve expands one source, which may hold wildcards in any component,
// into what it names, sorted. A plain path must exist. As from the context,
// a symlink is followed for the content but keeps its own name.
func (s Stage) Resolve(src string) ([]buildcontext.Match, error) {
	p := path.Clean("/" + src)
	if !strings.ContainsAny(p, "*?[") {
		r, err := s.stack.Resolve(p)
		if err != nil {
			return nil, err
		}
		if _, err := s.stack.Lstat(r); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: not found", src)
			}
			return nil, err
		}
		return []buildcontext.Match{{Path: r, Name: path.Base(p)}}, nil
	}
	return buildcontext.Glob(s, "/", strings.TrimPrefix(p, "/"))
}

// Follow resolves p through symlinks inside the root, for Glob.
func (s Stage) Follow(p string) (resolved string, dir, found bool, err error) {
	if resolved, err = s.stack.Resolve(p); err != nil {
		return "", false, false, err
	}
	e, err := s.stack.Lstat(resolved)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, err
	}
	return resolved, e.IsDir(), true, nil
}

// ReadDir lists the names in the resolved directory dir, for Glob.
func (s Stage) ReadDir(dir string) ([]string, error) {
	entries, err := s.stack.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// Walk lists what copying the resolved path p brings, as
// buildcontext.Context.Walk does for the context: p, then everything below
// it, depth first in name order.
func (s Stage) Walk(p string) ([]buildcontext.File, error) {
	e, err := s.stack.Lstat(p)
	if err != nil {
		return nil, err
	}
	top, err := stageFile(e, "")
	if err != nil {
		return nil, err
	}
	files := []buildcontext.File{top}
	if !e.IsDir() {
		return files, nil
	}
	return s.walkDir(files, p, "")
}

func (s Stage) walkDir(files []buildcontext.File, dir, rel string) ([]buildcontext.File, error) {
	entries, err := s.stack.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		childRel := path.Join(rel, e.Name())
		f, err := stageFile(e, childRel)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		if e.IsDir() {
			if files, err = s.walkDir(files, path.Join(dir, e.Name()), childRel); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

func stageFile(e overlay.Entry, rel string) (buildcontext.File, error) {
	f := buildcontext.File{Rel: rel, Host: e.HostPath, Info: e.FileInfo}
	if e.Mode()&fs.ModeSymlink != 0 {
		link, err := os.Readlink(e.HostPath)
		if err != nil {
			return f, err
		}
		f.Link = link
	}
	xattrs, err := buildcontext.ReadXattrs(e.HostPath)
	f.Xattrs = xattrs
	return f, err
}

// CopyOut copies the directory src (resolved) of the tree into dir, which
// exists and is empty: src's own metadata onto dir, and everything below
// src with its owners, modes, times, xattrs and hard links. A cache mount
// that starts from a stage is made with it.
func (s Stage) CopyOut(ctx context.Context, src, dir string) error {
	files, err := s.Walk(src)
	if err != nil {
		return err
	}
	if !files[0].Info.IsDir() {
		return fmt.Errorf("%s is not a directory", src)
	}
	l := NewLayer(dir, overlay.NewStack())
	for i := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := &files[i]
		st := f.Info.Sys().(*syscall.Stat_t)
		mode := f.Info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if err := l.Copy(f, path.Join("/", f.Rel), mode, Owner{UID: st.Uid, GID: st.Gid}, true); err != nil {
			return err
		}
	}
	return l.Finish()
}
