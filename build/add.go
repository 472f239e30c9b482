package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/gitsource"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/rootfs"
	digest "github.com/opencontainers/go-digest"
)

// remoteFile is an ADD source given as a URL.
type remoteFile struct {
	url      string
	name     string        // the name it gets: the last part of the URL path
	checksum digest.Digest // --checksum, "" when none
	// host and digest are set once it is downloaded.
	host   string
	digest digest.Digest
}

// planAdd plans an ADD: local sources as COPY, except that an archive
// (tar, plain or gzip/bzip2/xz/zstd) is unpacked into the destination
// (not with --unpack=false); URLs are downloaded, keyed by --checksum
// when given (so a cache hit downloads nothing) and by their content
// otherwise, and unpacked only with --unpack, as BuildKit does; git
// repositories are resolved to a commit, which keys them, and checked
// out when the step runs.
func (b *builder) planAdd(ctx context.Context, st *stage, c *instructions.AddCommand) (*plan, error) {
	link, err := linked(c.Link, c.Chown, c.Chmod)
	if err != nil {
		return nil, err
	}
	cc := &instructions.CopyCommand{Chown: c.Chown, Chmod: c.Chmod, ExcludePatterns: c.ExcludePatterns}
	cc.DestPath, cc.SourceContents = c.DestPath, c.SourceContents
	remotes, repos, err := b.addSources(ctx, c, cc)
	if err != nil {
		return nil, err
	}
	cp, err := b.planCopy(ctx, st, cc, nil)
	if err != nil {
		return nil, err
	}
	cp.remotes, cp.repos = remotes, repos
	cp.unpack = c.Unpack == nil || *c.Unpack
	cp.unpackRemote = c.Unpack != nil && *c.Unpack
	if err := cp.findArchives(ctx); err != nil {
		return nil, err
	}
	if err := cp.checkDest(); err != nil {
		return nil, err
	}
	for _, r := range remotes {
		if r.checksum == "" {
			if err := b.download(ctx, r); err != nil {
				removeDownloads(remotes)
				return nil, err
			}
		}
	}
	b.materials.noteCopy(cp)
	s := &addStep{b: b, cp: cp, remotes: remotes}
	return &plan{kind: "add", createdBy: copyHistory("ADD", false, c.Chown, c.Chmod, c.SourcesAndDest), inputs: s, layer: s,
		downloads: remotes, repos: repos, link: link}, nil
}

// addSources sorts the sources of an ADD: git repositories (resolved
// here), URLs, and paths, which go to cc. --checksum takes one source, a
// URL or a repository, as in BuildKit.
func (b *builder) addSources(ctx context.Context, c *instructions.AddCommand, cc *instructions.CopyCommand) ([]*remoteFile, []*gitRepo, error) {
	if c.Checksum != "" && len(c.SourcePaths) != 1 {
		return nil, nil, errors.New("checksum can't be specified for multiple sources")
	}
	var remotes []*remoteFile
	var repos []*gitRepo
	for _, src := range c.SourcePaths {
		ref, isGit, err := gitsource.Parse(src)
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("ADD %s: %w", src, err)
		case isGit:
			g, err := b.planGit(ctx, ref, c.KeepGitDir, c.Checksum)
			if err != nil {
				return nil, nil, fmt.Errorf("ADD %s: %w", src, err)
			}
			repos = append(repos, g)
		case isURL(src):
			r, err := newRemote(src)
			if err != nil {
				return nil, nil, err
			}
			if c.Checksum != "" {
				if r.checksum, err = digest.Parse(c.Checksum); err != nil {
					return nil, nil, fmt.Errorf("--checksum=%s: %w", c.Checksum, err)
				}
			}
			remotes = append(remotes, r)
		case c.Checksum != "":
			return nil, nil, errors.New("checksum requires HTTP(S) or Git sources")
		default:
			cc.SourcePaths = append(cc.SourcePaths, src)
		}
	}
	return remotes, repos, nil
}

// addStep is an ADD, planned.
type addStep struct {
	b       *builder
	cp      *copyPlan
	remotes []*remoteFile
}

// addTo keys on the local sources as COPY does, on each repository's
// checkout, and on each URL's --checksum, or else on the content
// downloaded while planning.
func (s *addStep) addTo(k *cache.KeyBuilder) {
	s.cp.keyFields(k)
	defer k.Group(k.Group("downloads"))
	gitKeyFields(k, s.cp.repos)
	for _, r := range s.remotes {
		d := r.checksum
		if d == "" {
			d = r.digest
		}
		k.String("url", r.url).String("name", r.name).String("content", d.String())
	}
}

// makeLayer downloads what planning did not (URLs with --checksum), then
// writes every source, unpacking archives.
func (s *addStep) makeLayer(ctx context.Context, root rootfs.Root, _ StepInfo) error {
	for _, r := range s.remotes {
		if r.host == "" {
			if err := s.b.download(ctx, r); err != nil {
				return err
			}
		}
	}
	cleanup, err := s.cp.addHeredocs(s.b.opts.Store)
	if err != nil {
		return err
	}
	defer cleanup()
	if err := s.cp.addRemotes(); err != nil {
		return err
	}
	if err := s.cp.addRepos(ctx, s.b); err != nil {
		return err
	}
	upper, lower := root.Files()
	s.cp.dirTime = s.b.dirTime
	return s.cp.write(ctx, upper, lower)
}

func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

func newRemote(src string) (*remoteFile, error) {
	u, err := url.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("ADD %s: %w", src, err)
	}
	name := "__unnamed__"
	if base := path.Base(u.Path); base != "." && base != "/" {
		name = base
	}
	return &remoteFile{url: src, name: name}, nil
}

// download fetches a URL into the store's scratch, as BuildKit's HTTP
// source does: mode 0600, mtime from Last-Modified (else the epoch),
// checked against --checksum when given.
func (b *builder) download(ctx context.Context, r *remoteFile) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", r.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s", r.url, resp.Status)
	}
	dir, err := b.opts.Store.TempDir("add-")
	if err != nil {
		return err
	}
	defer func() {
		if r.host == "" {
			os.RemoveAll(dir)
		}
	}()
	host := filepath.Join(dir, "file")
	alg := digest.SHA256
	if r.checksum != "" {
		alg = r.checksum.Algorithm()
	}
	dg := alg.Digester()
	mtime := time.Unix(0, 0)
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = t
	}
	meta := fswrite.Meta{Mode: 0o600, Atime: mtime, Mtime: mtime}
	if err := fswrite.WriteFile(host, io.TeeReader(resp.Body, dg.Hash()), meta); err != nil {
		return fmt.Errorf("download %s: %w", r.url, err)
	}
	got := dg.Digest()
	if r.checksum != "" && got != r.checksum {
		return fmt.Errorf("download %s: checksum mismatch: got %s, want %s", r.url, got, r.checksum)
	}
	r.host, r.digest = host, got
	return nil
}

// removeDownloads deletes what download fetched.
func removeDownloads(remotes []*remoteFile) {
	for _, r := range remotes {
		if r.host != "" {
			os.RemoveAll(filepath.Dir(r.host))
			r.host = ""
		}
	}
}

// addRemotes adds the downloaded files as sources, unpacked only with
// --unpack.
func (p *copyPlan) addRemotes() error {
	for _, r := range p.remotes {
		fi, err := os.Lstat(r.host)
		if err != nil {
			return err
		}
		p.sources = append(p.sources, copySource{
			match:  buildcontext.Match{Path: r.host, Name: r.name},
			files:  []buildcontext.File{{Host: r.host, Info: fi}},
			remote: true,
		})
	}
	return nil
}

// findArchives marks the local sources that ADD unpacks, for the key.
func (p *copyPlan) findArchives(ctx context.Context) error {
	for i := range p.sources {
		s := &p.sources[i]
		if !p.unpacks(*s) || !s.files[0].Info.Mode().IsRegular() {
			continue
		}
		ok, err := layerdiff.IsArchive(ctx, s.files[0].Host)
		if err != nil {
			return err
		}
		s.archive = ok
	}
	return nil
}
