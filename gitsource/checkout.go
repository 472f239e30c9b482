package gitsource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Checkout fetches what res names of r and checks it out into dir, an
// empty directory, made 0755 whatever the umask when it does not exist (a
// checkout is the root of a new snapshot in BuildKit), with the commands
// BuildKit's git source runs: a
// shallow fetch into a bare repository in scratch (which the caller
// removes), a checkout of the commit's files, submodules at depth 1
// unless skipped, the subdir alone when one is named, and with
// KeepGitDir a .git dir of its own in dir, cloned from the bare one.
func Checkout(ctx context.Context, r *Ref, res Resolved, scratch, dir string, o Options) error {
	if err := makeDir(dir); err != nil {
		return fmt.Errorf("checkout dir: %w", err)
	}
	o = o.forRemote(r.Remote)
	bare := filepath.Join(scratch, "repo.git")
	if _, err := o.run(ctx, scratch, "-c", "init.defaultBranch=master", "init", "--bare", bare); err != nil {
		return err
	}
	if _, err := o.run(ctx, bare, "--git-dir", bare, "remote", "add", "origin", r.Remote); err != nil {
		return err
	}
	if err := fetch(ctx, r, res, bare, o); err != nil {
		return err
	}
	subdir := strings.TrimPrefix(path.Join("/", r.Subdir), "/")
	work, gitDir := dir, bare
	switch {
	case r.KeepGitDir != nil && *r.KeepGitDir && subdir == "":
		if err := keepGitDir(ctx, r, res, bare, dir, o); err != nil {
			return err
		}
		gitDir = filepath.Join(dir, ".git")
	default:
		if subdir != "" {
			work = filepath.Join(scratch, "checkout")
			if err := os.Mkdir(work, 0o755); err != nil {
				return err
			}
		}
		if _, err := o.run(ctx, work, "--work-tree", work, "--git-dir", bare, "checkout", "--no-overlay", res.Object, "--", "."); err != nil {
			return fmt.Errorf("failed to checkout remote %s: %w", redact(r.Remote), err)
		}
	}
	if !r.SkipSubmodules {
		if _, err := o.run(ctx, work, "--work-tree", work, "--git-dir", gitDir, "submodule", "update", "--init", "--recursive", "--depth=1"); err != nil {
			return fmt.Errorf("failed to update submodules for %s: %w", redact(r.Remote), err)
		}
	}
	if subdir == "" {
		return nil
	}
	return moveSubdir(work, subdir, dir)
}

// makeDir makes dir 0755, unless it exists: an existing one is left as
// it is.
func makeDir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	//	chmod 0755 dir (mkdir took the umask off)
	return os.Chmod(dir, 0o755)
}

// fetch brings the ref into the bare repository as BuildKit does: a
// branch or tag shallow, into refs/tags/<ref>; a commit id with the tags.
// When what came is not what Resolve saw, the object is fetched itself.
func fetch(ctx context.Context, r *Ref, res Resolved, bare string, o Options) error {
	ref := res.Ref
	args := []string{"--git-dir", bare, "fetch"}
	if isCommitSHA(ref) {
		args = append(args, "--tags", "origin", ref)
	} else {
		target := ref
		if !strings.HasPrefix(ref, "refs/tags/") {
			target = "tags/" + ref
		}
		args = append(args, "--depth=1", "--no-tags", "origin", "--force", "--", ref+":"+target)
	}
	if _, err := o.run(ctx, bare, args...); err != nil {
		return fmt.Errorf("failed to fetch remote %s: %w", redact(r.Remote), err)
	}
	got, err := o.run(ctx, bare, "--git-dir", bare, "rev-parse", ref)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(got)) == res.Object {
		return nil
	}
	if _, err := o.run(ctx, bare, "--git-dir", bare, "cat-file", "-e", res.Object); err != nil {
		args := []string{"--git-dir", bare, "fetch", "--tags"}
		if _, err := os.Lstat(filepath.Join(bare, "shallow")); err == nil {
			args = append(args, "--unshallow")
		}
		if _, err := o.run(ctx, bare, append(args, "origin", res.Object)...); err != nil {
			return fmt.Errorf("fetched ref %s does not match expected commit %s and commit can not be found in the repository: %w", ref, res.Object, err)
		}
	}
	upd := ref
	if !isCommitSHA(ref) && !strings.HasPrefix(ref, "refs/tags/") {
		upd = "refs/tags/" + ref
	}
	_, err = o.run(ctx, bare, "--git-dir", bare, "update-ref", upd, res.Object, "--no-deref")
	return err
}

// keepGitDir makes dir a clone of the ref of bare, with the remote r
// names as its origin, as BuildKit does for --keep-git-dir.
func keepGitDir(ctx context.Context, r *Ref, res Resolved, bare, dir string, o Options) error {
	git := func(args ...string) error {
		_, err := o.run(ctx, dir, append([]string{"--work-tree", dir, "--git-dir", filepath.Join(dir, ".git")}, args...)...)
		return err
	}
	if err := git("-c", "init.defaultBranch=master", "init"); err != nil {
		return err
	}
	if err := git("remote", "add", "origin", "file://"+bare); err != nil {
		return err
	}
	ref := res.Ref
	typ, err := o.run(ctx, bare, "--git-dir", bare, "cat-file", "-t", ref)
	if err != nil {
		return err
	}
	pull := ref + ":" + ref
	switch {
	case strings.TrimSpace(string(typ)) == "tag":
		pull = ref + ":refs/tags/" + strings.TrimPrefix(ref, "refs/tags/")
	case isCommitSHA(ref):
		id := make([]byte, 16)
		rand.Read(id)
		pull = "refs/buildkit/" + hex.EncodeToString(id)
		if _, err := o.run(ctx, bare, "--git-dir", bare, "update-ref", pull, ref); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"fetch", "-u", "--depth=1", "--", "origin", pull},
		{"checkout", "FETCH_HEAD"},
		{"remote", "set-url", "origin", redact(r.Remote)},
		{"reflog", "expire", "--all", "--expire=now"},
	} {
		if err := git(args...); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(dir, ".git", "FETCH_HEAD")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// moveSubdir moves what the directory subdir of work holds into dir. The
// path to it must be directories only, no symlink.
func moveSubdir(work, subdir, dir string) error {
	p := work
	for _, part := range strings.Split(subdir, "/") {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("invalid subdir %s: %w", subdir, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("invalid subdir %s: git subpath %q contains non-directory %q", subdir, subdir, part)
		}
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(p, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
