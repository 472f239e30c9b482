package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/users"
)

// copyPlan is a COPY with its sources resolved and checksummed.
type copyPlan struct {
	dest    string // absolute
	destDir bool   // the destination was written with a trailing "/"
	owner   owner
	chmod   *fs.FileMode
	sources []copySource
	// from is the stage or image of --from, nil for the build context. Its
	// files are walked only when the step runs: its key covers them.
	from     *stage
	patterns []string
	// heredocs are COPY <<EOF sources: files made from the Dockerfile.
	heredocs []instructions.SourceContent
	// unpack is set for ADD: archives from the context are unpacked.
	unpack  bool
	remotes []*remoteFile
}

// owner is the uid:gid copied files get.
type owner struct {
	spec string // as written, "" for the default 0:0
	id   fswrite.Owner
}

type copySource struct {
	match buildcontext.Match
	files []buildcontext.File
	// remote is set for a file ADD downloaded: it is never unpacked.
	remote bool
}

// planCopy resolves every source of an expanded COPY from the context,
// walks and hashes them. Wildcards may match nothing, as in BuildKit; a
// plain path must exist. With --from (from is not nil) only the flags are
// checked here. A --chown name is looked up only when the step runs (see
// resolveOwner): the key has the name, and the parent key fixes the
// /etc/passwd it resolves in, so a cache hit reads no layer.
func (b *builder) planCopy(ctx context.Context, st *stage, c *instructions.CopyCommand, from *stage) (*copyPlan, error) {
	p := &copyPlan{
		dest:     absDest(st.img.Config.Config.WorkingDir, c.DestPath),
		destDir:  strings.HasSuffix(c.DestPath, "/") || c.DestPath == "." || strings.HasSuffix(c.DestPath, "/."),
		owner:    owner{spec: c.Chown},
		from:     from,
		patterns: c.SourcePaths,
		heredocs: c.SourceContents,
	}
	if c.Chmod != "" {
		m, err := parseChmod(c.Chmod)
		if err != nil {
			return nil, err
		}
		p.chmod = &m
	}
	if from != nil {
		return p, p.checkDest()
	}
	if err := p.collect(b.bctx); err != nil {
		return nil, err
	}
	for _, s := range p.sources {
		if err := b.bctx.Hash(ctx, s.files); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// tree is where COPY reads from: the build context or a stage's root.
type tree interface {
	Resolve(src string) ([]buildcontext.Match, error)
	Walk(path string) ([]buildcontext.File, error)
}

// collect resolves and walks every source.
func (p *copyPlan) collect(t tree) error {
	for _, src := range p.patterns {
		matches, err := t.Resolve(src)
		if err != nil {
			return err
		}
		for _, m := range matches {
			files, err := t.Walk(m.Path)
			if err != nil {
				return err
			}
			p.sources = append(p.sources, copySource{match: m, files: files})
		}
	}
	return p.checkDest()
}

// checkDest applies the Dockerfile reference's rule to the source
// arguments as written: several need a directory destination written
// with a trailing slash. One wildcard may match several files, the last
// one copied winning, as in BuildKit. (BuildKit checks no count at all,
// moby/buildkit#1853: a second argument overwrites the first.)
func (p *copyPlan) checkDest() error {
	if len(p.patterns)+len(p.heredocs)+len(p.remotes) > 1 && !p.destDir {
		return errors.New("when copying more than one file, the destination must be a directory and end with a /")
	}
	return nil
}

// addHeredocs makes a 0644 file in the store's scratch for each heredoc
// source, named after its delimiter, as BuildKit's Mkfile does, and adds
// it as a source. cleanup removes the files.
func (p *copyPlan) addHeredocs(store *cache.Store) (cleanup func(), err error) {
	if len(p.heredocs) == 0 {
		return func() {}, nil
	}
	dir, err := store.TempDir("heredoc-")
	if err != nil {
		return nil, err
	}
	if err := p.writeHeredocs(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return func() { os.RemoveAll(dir) }, nil
}

func (p *copyPlan) writeHeredocs(dir string) error {
	for i, h := range p.heredocs {
		host := filepath.Join(dir, strconv.Itoa(i))
		if err := fswrite.WriteFile(host, strings.NewReader(h.Data), fswrite.Meta{Mode: 0o644}); err != nil {
			return err
		}
		fi, err := os.Lstat(host)
		if err != nil {
			return err
		}
		p.sources = append(p.sources, copySource{
			match: buildcontext.Match{Path: host, Name: h.Path},
			files: []buildcontext.File{{Host: host, Info: fi}},
		})
	}
	return nil
}

// keyFields adds to a key everything about the copied files that reaches
// the layer: names, types, modes, owners, sizes, link targets, xattrs and
// content. Never times: a touched file must still hit.
func (p *copyPlan) keyFields(k *cache.KeyBuilder) {
	k.String("dest", p.dest).String("dest_dir", strconv.FormatBool(p.destDir))
	k.String("chown", p.owner.spec)
	chmod := ""
	if p.chmod != nil {
		chmod = strconv.FormatUint(uint64(*p.chmod), 8)
	}
	k.String("chmod", chmod).String("unpack", strconv.FormatBool(p.unpack))
	for _, h := range p.heredocs {
		k.String("heredoc", h.Path).String("data", h.Data)
	}
	if p.from != nil {
		// The source stage's key stands for its whole filesystem.
		k.String("from", p.from.key.String()).Strings("sources", p.patterns)
		return
	}
	for _, s := range p.sources {
		k.String("source", s.match.Path).String("name", s.match.Name)
		k.Strings("files", nil) // separates the sources' file lists
		fileFields(k, s.files)
	}
}

// specialBits are the mode bits a copy keeps: permissions, setuid, setgid
// and sticky.
const specialBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func ownerOf(fi fs.FileInfo) (uid, gid uint32) {
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

func rdevOf(fi fs.FileInfo) uint64 {
	if fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Rdev
}

func sizeOf(fi fs.FileInfo) int64 {
	if fi.Mode().IsRegular() {
		return fi.Size()
	}
	return 0
}

// absDest makes a COPY destination absolute against the working dir, as
// BuildKit's pathRelativeToWorkingDir does.
func absDest(workdir, dest string) string {
	if dest == "" || dest == "." {
		dest = "./"
	}
	if !path.IsAbs(dest) {
		dest = path.Join(workdir, dest)
	}
	return path.Clean("/" + dest)
}

// parseChmod parses an octal --chmod value.
func parseChmod(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		if strings.ContainsAny(s, "ugoa+-=rwxXst,") && !strings.ContainsAny(s, "89") {
			return 0, fmt.Errorf("--chmod=%s: symbolic modes are not supported yet; use an octal mode", s)
		}
		return 0, fmt.Errorf("invalid chmod parameter: '%s'. it should be octal string and between 0 and 07777", s)
	}
	if n > 0o7777 {
		return 0, fmt.Errorf("invalid chmod parameter: '%s'. it should be octal string and between 0 and 07777", s)
	}
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

// write copies the files into the layer dir upper, over lower, as
// BuildKit's fsutil copy does, source by source: the destination dir is
// created (with the --chmod mode, or 0755, and the --chown owner) when
// missing; a file lands inside an existing directory, else at the
// destination itself; a directory's contents are copied into the
// destination, whose own metadata is kept. A wildcard that matched
// nothing makes nothing, not even the destination.
func (p *copyPlan) write(ctx context.Context, upper string, lower *overlay.Stack) error {
	if err := p.resolveOwner(lower); err != nil {
		return err
	}
	w := fswrite.NewLayer(upper, lower)
	for _, s := range p.sources {
		if err := p.writeSource(ctx, w, s); err != nil {
			return err
		}
	}
	return w.Finish()
}

// dirPerm is the mode of the directories a copy creates.
func (p *copyPlan) dirPerm() fs.FileMode {
	if p.chmod != nil {
		return *p.chmod
	}
	return 0o755
}

// writeSource copies one source, or unpacks it if ADD and an archive.
func (p *copyPlan) writeSource(ctx context.Context, w *fswrite.Layer, s copySource) error {
	top := &s.files[0]
	if p.unpack && !s.remote && top.Info.Mode().IsRegular() {
		unpacked, err := p.unpackArchive(ctx, w, top)
		if err != nil || unpacked {
			return err
		}
	}
	perm := p.dirPerm()
	ensure := p.dest
	if !p.destDir {
		ensure = path.Dir(p.dest)
	}
	ensure, err := w.Resolve(ensure)
	if err != nil {
		return err
	}
	if err := w.MkdirAll(ensure, perm, p.owner.id); err != nil {
		return err
	}
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
	target := path.Dir(dest)
	if srcIsDir && existing == nil {
		target = dest
	}
	if err := w.MkdirAll(target, perm, p.owner.id); err != nil {
		return err
	}
	if err := w.Copy(top, dest, p.mode(top), p.ownerOf(top), !srcIsDir); err != nil {
		return err
	}
	for i := range s.files[1:] {
		f := &s.files[i+1]
		if err := w.Copy(f, path.Join(dest, f.Rel), p.mode(f), p.ownerOf(f), true); err != nil {
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

// mode is the mode a copied entry gets: the source's, or --chmod's.
func (p *copyPlan) mode(f *buildcontext.File) fs.FileMode {
	if p.chmod != nil {
		return *p.chmod
	}
	return f.Info.Mode() & specialBits
}

// copyHistory is the history text of a COPY or ADD, as BuildKit writes
// it: the flags that change the files, the sources (a heredoc as <<NAME),
// the destination. --from is left out; the key has it.
func copyHistory(name, chown, chmod string, sd instructions.SourcesAndDest) string {
	var b strings.Builder
	b.WriteString(name)
	if chown != "" {
		b.WriteString(" --chown=" + chown)
	}
	if chmod != "" {
		b.WriteString(" --chmod=" + chmod)
	}
	for _, src := range sd.SourcePaths {
		b.WriteString(" " + src)
	}
	for _, h := range sd.SourceContents {
		b.WriteString(" <<" + h.Path)
	}
	b.WriteString(" " + sd.DestPath)
	return b.String()
}
