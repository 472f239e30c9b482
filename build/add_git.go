package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/gitsource"
	"github.com/mybuild/mybuild/overlay"
)

// gitRepo is an ADD source that is a git repository: resolved to a commit
// while planning, which keys the step, and checked out when it runs.
type gitRepo struct {
	ref *gitsource.Ref
	res gitsource.Resolved
	// scratch holds the checkout once made; removed when the step is done.
	scratch string
}

// planGit reads an ADD source that is a git repository, with ADD's
// --keep-git-dir and --checksum, as dockerfile2llb does, and resolves it.
func (b *builder) planGit(ctx context.Context, r *gitsource.Ref, keepGitDir *bool, checksum string) (*gitRepo, error) {
	if keepGitDir != nil && r.KeepGitDir != nil && *keepGitDir != *r.KeepGitDir {
		return nil, errors.New("inconsistent keep-git-dir configuration")
	}
	if r.KeepGitDir == nil {
		r.KeepGitDir = keepGitDir
	}
	if checksum != "" && r.Checksum != "" && checksum != r.Checksum {
		return nil, fmt.Errorf("checksum mismatch %q != %q", checksum, r.Checksum)
	}
	if r.Checksum == "" {
		r.Checksum = checksum
	}
	res, err := gitsource.Resolve(ctx, r, b.gitOptions())
	if err != nil {
		return nil, err
	}
	return &gitRepo{ref: r, res: res}, nil
}

// gitOptions are what git runs with: the builder's ssh agent, the CA
// bundle of SSL_CERT_FILE, which mybuild's own downloads trust too, and
// the secrets, GIT_AUTH_TOKEN and GIT_AUTH_HEADER among them.
func (b *builder) gitOptions() gitsource.Options {
	return gitsource.Options{SSHAuthSock: b.opts.SSHAuthSock, CAFile: os.Getenv("SSL_CERT_FILE"), Secrets: b.opts.Secrets}
}

// keyString is what keys the checkout, as BuildKit's shaToCacheKey: the
// commit, the ref with the .git dir, the subdir, the submodules. Not the
// remote: the commit stands for the files.
func (g *gitRepo) keyString() string {
	key := g.res.Commit
	if g.ref.KeepGitDir != nil && *g.ref.KeepGitDir {
		key += ".git#" + g.res.Ref
	}
	if g.ref.Subdir != "" {
		key += ":" + g.ref.Subdir
	}
	if g.ref.SkipSubmodules {
		key += "(skip-submodules)"
	}
	return key
}

// checkout fetches the repository into the store's scratch.
func (b *builder) checkout(ctx context.Context, g *gitRepo) (string, error) {
	scratch, err := b.opts.Store.TempDir("git-")
	if err != nil {
		return "", err
	}
	g.scratch = scratch
	// Checkout makes the dir, 0755 as BuildKit's checkout is.
	dir := filepath.Join(scratch, "files")
	if err := gitsource.Checkout(ctx, g.ref, g.res, scratch, dir, b.gitOptions()); err != nil {
		return "", err
	}
	return dir, nil
}

// addRepos checks out each repository and adds it as a source: its root
// is copied as a directory, not as its contents (BuildKit's copy of "/"
// of the checkout), so a new destination takes the root's metadata.
func (p *copyPlan) addRepos(ctx context.Context, b *builder) error {
	for _, g := range p.repos {
		dir, err := b.checkout(ctx, g)
		if err != nil {
			return err
		}
		files, err := fswrite.NewStage(overlay.NewStack(dir)).Walk("/")
		if err != nil {
			return err
		}
		if files, err = buildcontext.Filter(files, nil, p.excludes); err != nil {
			return err
		}
		p.sources = append(p.sources, copySource{match: buildcontext.Match{Path: dir}, files: files, dirItself: true})
	}
	return nil
}

// removeRepos removes the checkouts.
func removeRepos(repos []*gitRepo) {
	for _, g := range repos {
		if g.scratch != "" {
			os.RemoveAll(g.scratch)
			g.scratch = ""
		}
	}
}

// gitKeyFields keys each repository by its checkout.
func gitKeyFields(k *cache.KeyBuilder, repos []*gitRepo) {
	for _, g := range repos {
		k.String("git", g.keyString())
	}
}
