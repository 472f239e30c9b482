package build

import (
	"context"
	"fmt"
	"io/fs"
	"path"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/users"
)

// specialBits are the mode bits a copy keeps: permissions, setuid, setgid
// and sticky.
const specialBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// write copies the files into the layer dir upper, over lower, as
// BuildKit's fsutil copy does, source by source: the destination dir is
// created (with the --chmod mode, or 0755, and the --chown owner) when
// missing; a file lands inside an existing directory, else at the
// destination itself; a directory's contents are copied into the
// destination, whose own metadata is kept. A wildcard that matched
// nothing makes nothing, not even the destination.
func (p *copyPlan) write(ctx context.Context, upper string, lower *overlay.Stack) error {
	lower = lowerOf(ctx, lower)
	if err := p.resolveOwner(lower); err != nil {
		return err
	}
	opts := []fswrite.LayerOption{fswrite.WithParallelCopies()}
	if !p.dirTime.IsZero() {
		opts = append(opts, fswrite.WithDirTime(p.dirTime))
	}
	if reuse := reuseOption(ctx); reuse != nil {
		opts = append(opts, reuse)
	}
	w := fswrite.NewLayer(upper, lower, opts...)
	for _, s := range p.sources {
		err := p.writeSource(ctx, w, s)
		// The next source may write to the same paths.
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			return err
		}
	}
	return w.Finish()
}

// dirPerm is the mode of the directories a copy creates.
func (p *copyPlan) dirPerm() fs.FileMode {
	return p.chmod.dirPerm()
}

// unpacks reports whether s is unpacked when it is an archive: as in
// BuildKit, a file of the context or a stage unless ADD --unpack=false,
// a downloaded one only with ADD --unpack, a heredoc never.
func (p *copyPlan) unpacks(s copySource) bool {
	switch {
	case s.heredoc:
		return false
	case s.remote:
		return p.unpackRemote
	}
	return p.unpack
}

// ensureDest makes the destination, when written as a directory, or else
// its parent, as fsutil's Copy does before each source.
func (p *copyPlan) ensureDest(w *fswrite.Layer) error {
	ensure := p.dest
	if !p.destDir {
		ensure = path.Dir(p.dest)
	}
	ensure, err := w.Resolve(ensure)
	if err != nil {
		return err
	}
	return w.MkdirAll(ensure, p.dirPerm(), p.owner.id)
}

// writeSource copies one source, or unpacks it if ADD and an archive.
func (p *copyPlan) writeSource(ctx context.Context, w *fswrite.Layer, s copySource) error {
	top := &s.files[0]
	if p.unpacks(s) && top.Info.Mode().IsRegular() {
		unpacked, err := p.unpackArchive(ctx, w, top)
		if err != nil || unpacked {
			return err
		}
	}
	if err := p.ensureDest(w); err != nil {
		return err
	}
	perm := p.dirPerm()
	srcIsDir := top.Info.IsDir()
	dest, err := w.Resolve(p.dest)
	if err != nil {
		return err
	}
	existing, err := w.Lookup(dest)
	if err != nil {
		return err
	}
	if !srcIsDir && existing != nil && existing.IsDir() {
		dest = path.Join(dest, s.match.Name)
	}
	// A directory's contents go into the destination, made when missing;
	// a directory copied as itself makes it as a copy of it.
	target, setMeta := path.Dir(dest), !srcIsDir
	if srcIsDir && existing == nil {
		target, setMeta = dest, s.dirItself
		if s.dirItself {
			target = path.Dir(dest)
		}
	}
	if err := w.MkdirAll(target, perm, p.owner.id); err != nil {
		return err
	}
	if err := w.Copy(top, dest, p.mode(top), p.ownerOf(top), setMeta); err != nil {
		return err
	}
	for i := range s.files[1:] {
		f := &s.files[i+1]
		to := path.Join(dest, f.Rel)
		if f.Parent {
			err = w.CopyParent(f, to, p.mode(f), p.ownerOf(f))
		} else {
			err = w.Copy(f, to, p.mode(f), p.ownerOf(f), true)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unpackArchive unpacks f into the destination if it is an archive, as
// ADD does: the destination is a directory then, created when missing 0755
// (whatever --chmod says, as in BuildKit) with the --chown owner.
func (p *copyPlan) unpackArchive(ctx context.Context, w *fswrite.Layer, f *buildcontext.File) (bool, error) {
	tr, closer, ok, err := layerdiff.OpenArchive(ctx, f.Host)
	if err != nil || !ok {
		return false, err
	}
	defer closer.Close()
	dest, err := w.Resolve(p.dest)
	if err != nil {
		return false, err
	}
	if err := w.MkdirAll(dest, 0o755, p.owner.id); err != nil {
		return false, err
	}
	var o *fswrite.Owner
	if p.owner.spec != "" {
		o = &p.owner.id
	}
	return true, w.Untar(ctx, tr, dest, o)
}

// resolveOwner gives the --chown owner its uid and gid, from the
// /etc/passwd and /etc/group of the layers below.
func (p *copyPlan) resolveOwner(lower *overlay.Stack) error {
	if p.owner.spec == "" {
		return nil
	}
	uid, gid, err := users.LookupChown(p.owner.spec, lower.ReadFile)
	if err != nil {
		return fmt.Errorf("--chown=%s: %w", p.owner.spec, err)
	}
	p.owner.id = fswrite.Owner{UID: uid, GID: gid}
	return nil
}

// ownerOf is the owner a copied entry gets: --chown's; else, from a stage,
// its own, as BuildKit keeps it; from the context, root.
func (p *copyPlan) ownerOf(f *buildcontext.File) fswrite.Owner {
	if p.owner.spec != "" || p.from == nil {
		return p.owner.id
	}
	uid, gid := ownerOf(f.Info)
	return fswrite.Owner{UID: uid, GID: gid}
}

// mode is the mode a copied entry gets: the source's, or --chmod's,
// octal or applied to the source's.
func (p *copyPlan) mode(f *buildcontext.File) fs.FileMode {
	m := f.Info.Mode() & specialBits
	if p.chmod != nil {
		m = p.chmod.apply(f.Info.Mode()) & specialBits
	}
	return m
}
