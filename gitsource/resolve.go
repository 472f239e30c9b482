package gitsource

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Resolved is what a Ref names in its remote now.
type Resolved struct {
	// Ref is the ref fetched: Ref's, or the default branch.
	Ref string
	// Object is what the ref points to: a commit, or an annotated tag.
	Object string
	// Commit is the commit checked out, which keys the result (for an
	// annotated tag kept with its .git dir, the tag object, as BuildKit
	// keys it then).
	Commit string
}

var (
	hexChecksum   = regexp.MustCompile(`^[a-fA-F0-9]+$`)
	defaultBranch = regexp.MustCompile(`refs/heads/(\S+)`)
)

// Resolve finds what r names, as BuildKit's git source does before
// anything is fetched: a full commit id as it is, else the remote's refs
// with git ls-remote, a branch winning over a tag of the same name, an
// annotated tag standing for its commit. Checksum must be a prefix of
// the commit (or of the tag object).
func Resolve(ctx context.Context, r *Ref, o Options) (Resolved, error) {
	o = o.forRemote(r.Remote)
	if r.Checksum != "" && !hexChecksum.MatchString(r.Checksum) {
		return Resolved{}, fmt.Errorf("invalid checksum %s for Git URL, expected hex commit hash", r.Checksum)
	}
	if isCommitSHA(r.Ref) {
		if r.Checksum != "" && !strings.HasPrefix(r.Ref, r.Checksum) {
			return Resolved{}, fmt.Errorf("expected checksum to match %s, got %s", r.Checksum, r.Ref)
		}
		return Resolved{Ref: r.Ref, Object: r.Ref, Commit: r.Ref}, nil
	}
	ref := r.Ref
	if ref == "" {
		var err error
		if ref, err = r.defaultBranch(ctx, o); err != nil {
			return Resolved{}, err
		}
	}
	out, err := o.run(ctx, "", "ls-remote", "--", r.Remote, ref, ref+"^{}")
	if err != nil {
		return Resolved{}, fmt.Errorf("failed to fetch remote %s: %w", redact(r.Remote), err)
	}
	res, tagCommit, err := pickRef(ref, string(out))
	if err != nil {
		return Resolved{}, err
	}
	if r.Checksum != "" && !strings.HasPrefix(res.Object, r.Checksum) && (tagCommit == "" || !strings.HasPrefix(tagCommit, r.Checksum)) {
		return Resolved{}, fmt.Errorf("expected checksum to match %s, got %s", r.Checksum, res.Object)
	}
	res.Ref, res.Commit = ref, res.Object
	if tagCommit != "" && (r.KeepGitDir == nil || !*r.KeepGitDir) {
		res.Commit = tagCommit
	}
	return res, nil
}

// pickRef reads git ls-remote's lines for ref as BuildKit does: an exact
// refs/... match, else a branch, else a tag; the dereferenced line of an
// annotated tag gives tagCommit.
func pickRef(ref, lsRemote string) (res Resolved, tagCommit string, err error) {
	partial := "refs/" + strings.TrimPrefix(ref, "refs/")
	head := "refs/heads/" + strings.TrimPrefix(ref, "refs/heads/")
	tag := "refs/tags/" + strings.TrimPrefix(ref, "refs/tags/")
	var sha, headSha, tagSha string
	for _, line := range strings.Split(lsRemote, "\n") {
		lineSha, lineRef, _ := strings.Cut(line, "\t")
		switch lineRef {
		case head:
			headSha = lineSha
		case tag:
			tagSha = lineSha
		case tag + "^{}":
			tagCommit = lineSha
		case partial:
			sha = lineSha
		}
	}
	if sha == "" {
		sha = headSha
	}
	if sha != "" {
		tagCommit = "" // a branch or exact ref won: no tag
	} else {
		sha = tagSha
	}
	if sha == "" {
		return Resolved{}, "", fmt.Errorf("repository does not contain ref %s", ref)
	}
	if !isCommitSHA(sha) {
		return Resolved{}, "", fmt.Errorf("invalid commit sha %q", sha)
	}
	return Resolved{Object: sha}, tagCommit, nil
}

// defaultBranch is the branch the remote's HEAD names.
func (r *Ref) defaultBranch(ctx context.Context, o Options) (string, error) {
	out, err := o.run(ctx, "", "ls-remote", "--symref", r.Remote, "HEAD")
	if err != nil {
		return "", fmt.Errorf("error fetching default branch for repository %s: %w", redact(r.Remote), err)
	}
	m := defaultBranch.FindStringSubmatch(string(out))
	if m == nil {
		return "", fmt.Errorf("could not find default branch for repository: %s", redact(r.Remote))
	}
	if strings.HasPrefix(m[1], "-") {
		return "", errors.New("invalid git ref " + m[1])
	}
	return m[1], nil
}
