package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/users"
)

// copyPlan is a COPY with its sources resolved and checksummed.
type copyPlan struct {
	// dirTime, unless zero, is the time of the directories the copy
	// creates (fswrite.WithDirTime): a multi-platform build's start.
	dirTime time.Time
	dest    string // absolute
	destDir bool   // the destination was written with a trailing "/"
	owner   owner
	chmod   *chmodSpec // nil: no --chmod
	sources []copySource
	// from is the stage or image of --from, nil for the build context. Its
	// files are walked only when the step runs: its key covers them.
	from     *stage
	patterns []string
	// parents is COPY --parents: each source keeps its path below the
	// root, or below a "/./" pivot in it.
	parents bool
	// excludes are the --exclude patterns.
	excludes []string
	// unmatched are the sources that matched nothing (wildcards).
	unmatched []string
	// heredocs are COPY <<EOF sources: files made from the Dockerfile.
	heredocs []instructions.SourceContent
	// unpack is set for ADD: archives from the context are unpacked;
	// unpackRemote, for ADD --unpack: downloaded ones too.
	unpack, unpackRemote bool
	remotes              []*remoteFile
	repos                []*gitRepo
	// owners is Options.ContextOwners.
	owners func(uid, gid uint32) (uint32, uint32)
}

// owner is the uid:gid copied files get.
type owner struct {
	spec string // as written, "" for the default 0:0
	id   fswrite.Owner
}

type copySource struct {
	match buildcontext.Match
	files []buildcontext.File
	// remote is set for a file ADD downloaded, heredoc for a COPY <<EOF
	// source: see copyPlan.unpacks.
	remote, heredoc bool
	// archive is set, when planned, for an ADD source that is unpacked.
	archive bool
	// dirItself is set for a git checkout: its root is copied as a
	// directory, whose metadata a new destination takes, not as its
	// contents.
	dirItself bool
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
		parents:  c.Parents,
		excludes: c.ExcludePatterns,
		owners:   b.opts.ContextOwners,
	}
	if c.Chmod != "" {
		m, err := parseChmod(c.Chmod)
		if err != nil {
			return nil, err
		}
		p.chmod = m
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
		if err := p.collectSource(t, src); err != nil {
			return err
		}
	}
	return p.checkDest()
}

// collectSource resolves one source, walks what it names and keeps what
// --parents and --exclude let through (buildcontext.Filter).
func (p *copyPlan) collectSource(t tree, src string) error {
	var include []string
	if p.parents {
		var required string
		src, include, required = splitParents(src)
		if required != "" {
			if _, err := t.Resolve(required); err != nil {
				return err
			}
		}
	}
	matches, err := t.Resolve(src)
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		p.unmatched = append(p.unmatched, src)
	}
	for _, m := range matches {
		files, err := t.Walk(m.Path)
		if err != nil {
			return err
		}
		if files, err = buildcontext.Filter(files, include, p.excludes); err != nil {
			return err
		}
		p.sources = append(p.sources, copySource{match: m, files: files})
	}
	return nil
}

// splitParents turns a COPY --parents source into what BuildKit copies:
// the directory it is below (before a "/./" pivot, else the root), which
// is copied with an include pattern, the rest. Without wildcards, the
// path named must exist: required is it.
func splitParents(src string) (root string, include []string, required string) {
	root, pattern, pivot := strings.Cut(src, "/./")
	if !pivot {
		root, pattern = "/", src
	}
	if !path.IsAbs(pattern) {
		pattern = path.Join("/", pattern)
	}
	if !containsWildcards(root) && !containsWildcards(pattern) {
		required = path.Join(root, pattern)
	}
	return root, []string{strings.TrimPrefix(pattern, "/")}, required
}

// containsWildcards is BuildKit's test for a wildcard: a backslash
// escapes the character after it.
func containsWildcards(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '*', '?', '[':
			return true
		case '\\':
			i++
		}
	}
	return false
}

// checkDest applies the Dockerfile reference's rule to the source
// arguments as written: several need a directory destination written
// with a trailing slash. One wildcard may match several files, the last
// one copied winning, as in BuildKit. (BuildKit checks no count at all,
// moby/buildkit#1853: a second argument overwrites the first.)
func (p *copyPlan) checkDest() error {
	if len(p.patterns)+len(p.heredocs)+len(p.remotes)+len(p.repos) > 1 && !p.destDir {
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
			match:   buildcontext.Match{Path: host, Name: h.Path},
			files:   []buildcontext.File{{Host: host, Info: fi}},
			heredoc: true,
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
	k.String("chmod", p.chmod.keyString()).String("unpack", strconv.FormatBool(p.unpack))
	if p.unpackRemote {
		k.String("unpack_remote", "true")
	}
	// Fields added with a feature are keyed only when it is used, so that
	// the keys of steps without it stay what they were.
	if p.parents {
		k.String("parents", "true")
	}
	if len(p.excludes) > 0 {
		k.Strings("exclude", p.excludes)
	}
	for _, h := range p.heredocs {
		k.String("heredoc", h.Path).String("data", h.Data)
	}
	if p.from != nil {
		// The source stage's key stands for its whole filesystem.
		k.String("from", p.from.key.String()).Strings("sources", p.patterns)
		if slices.ContainsFunc(p.patterns, containsWildcards) {
			// A wildcard matching nothing no longer makes the destination:
			// results cached before that must not be reused.
			k.String("empty_wildcard", "makes nothing")
		}
		return
	}
	defer k.Group(k.Group("files"))
	for _, src := range p.unmatched {
		k.String("unmatched", src)
	}
	for _, s := range p.sources {
		k.String("source", s.match.Path).String("name", s.match.Name)
		if s.archive {
			// Which files are archives changed (PAX headers first): an
			// archive keys as one, so that no result cached before that is
			// reused for it.
			k.String("archive", "true")
		}
		k.Strings("files", nil) // separates the sources' file lists
		fileFields(k, s.files, p.owners)
	}
}

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

// linked reports whether a COPY or ADD --link makes its layer on an empty
// root, as BuildKit merges such a copy onto the stage: not with --chmod,
// which BuildKit then copies as without --link. A --chown name cannot be
// resolved on an empty root: it is an error, as in BuildKit.
func linked(link bool, chown, chmod string) (bool, error) {
	if link && chown != "" && users.IsChownByName(chown) {
		return false, fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead", chown)
	}
	return link && chmod == "", nil
}

// copyHistory is the history text of a COPY or ADD, as BuildKit writes
// it: the flags that change the files, the sources (a heredoc as <<NAME),
// the destination. --from, --exclude and --link are left out, as BuildKit
// leaves them; the key has them.
func copyHistory(name string, parents bool, chown, chmod string, sd instructions.SourcesAndDest) string {
	var b strings.Builder
	b.WriteString(name)
	if parents {
		b.WriteString(" --parents")
	}
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
