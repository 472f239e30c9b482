package gitsource

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Ref is a git repository as ADD names it.
type Ref struct {
	// Remote is the URL git fetches: no fragment, no query.
	Remote string
	// Ref is a branch, tag, full ref or commit; "" is the default branch.
	Ref string
	// Subdir is the directory of the repository that is copied, clean and
	// relative; "" for its root.
	Subdir string
	// Checksum, when set, is the commit (or a prefix of it) Ref must
	// resolve to.
	Checksum string
	// KeepGitDir keeps the .git directory; nil when the URL does not say.
	KeepGitDir *bool
	// SkipSubmodules leaves the submodules out.
	SkipSubmodules bool
	// SSH is set for a remote fetched over ssh.
	SSH bool
}

// scpLike is an ssh remote written user@host:path, as git accepts it.
var scpLike = regexp.MustCompile(`^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:\?(.*?))?(?:#(.*))?$`)

// urlScheme is what may come before "://".
var urlScheme = regexp.MustCompile(`^[a-zA-Z0-9]+$`)

// Parse reads src as BuildKit's ADD does (dfgitutil.ParseGitRef): ok is
// false for what is not a git repository, which ADD takes as a URL or a
// path. A repository is a git:// or ssh:// URL, an http(s):// one whose
// path ends in .git, or user@host:path; "#ref:subdir" and the query
// parameters ref, tag, branch, subdir, checksum (or commit),
// keep-git-dir and submodules say what to take of it.
func Parse(src string) (r *Ref, ok bool, err error) {
	if strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") || strings.HasPrefix(src, "github.com/") {
		return nil, false, nil // github.com/...: a path, for ADD
	}
	var fragment string
	var query url.Values
	r = &Ref{}
	if scheme, _, found := strings.Cut(src, "://"); found && urlScheme.MatchString(scheme) {
		u, err := url.Parse(src)
		if err != nil {
			return nil, false, nil
		}
		switch strings.ToLower(u.Scheme) {
		case "git", "ssh":
		case "http", "https":
			if !strings.HasSuffix(u.Path, ".git") {
				return nil, false, nil
			}
		default:
			return nil, false, nil
		}
		r.SSH = strings.EqualFold(u.Scheme, "ssh")
		fragment, query = u.Fragment, u.Query()
		u.Fragment, u.RawFragment, u.RawQuery = "", "", ""
		r.Remote = u.String()
	} else if m := scpLike.FindStringSubmatch(src); m != nil {
		if query, err = url.ParseQuery(m[4]); err != nil {
			return nil, true, fmt.Errorf("invalid query in scp-style url: %w", err)
		}
		r.SSH, fragment = true, m[5]
		r.Remote = m[1] + "@" + m[2] + ":" + m[3]
	} else {
		return nil, false, nil
	}
	if fragment != "" {
		ref, subdir, _ := strings.Cut(fragment, ":")
		r.Ref, r.Subdir = ref, strings.TrimPrefix(path.Join("/", subdir), "/")
	}
	return r, true, r.loadQuery(query)
}

// loadQuery applies the query parameters, with dfgitutil's rules.
func (r *Ref) loadQuery(query url.Values) error {
	var tag, branch string
	for k, v := range query {
		if len(v) > 1 {
			return fmt.Errorf("query %q has multiple values", k)
		}
		val, given := "", len(v) == 1 && v[0] != ""
		if given {
			val = v[0]
		}
		switch k {
		case "ref", "subdir":
			if !given {
				return fmt.Errorf("query %q has no value", k)
			}
			if err := r.set(k, val); err != nil {
				return err
			}
		case "tag", "branch", "checksum", "commit":
			if !given {
				return fmt.Errorf("query %q has no value", k)
			}
			switch k {
			case "tag":
				tag = val
			case "branch":
				branch = val
			default:
				r.Checksum = val
			}
		case "keep-git-dir", "submodules":
			b, err := queryBool(k, val, given)
			if err != nil {
				return err
			}
			if k == "keep-git-dir" {
				r.KeepGitDir = &b
			} else {
				r.SkipSubmodules = !b
			}
		case "fetch-by-commit":
			return errors.New("the git URL query fetch-by-commit is not supported yet")
		default:
			return fmt.Errorf("unexpected query %q", k)
		}
	}
	return r.setTagBranch(tag, branch)
}

// set sets the ref or the subdir, which must agree with the fragment.
func (r *Ref) set(k, v string) error {
	field := &r.Ref
	if k == "subdir" {
		field = &r.Subdir
	}
	if *field != "" && *field != v {
		return fmt.Errorf("%s conflicts: %q vs %q", k, *field, v)
	}
	*field = v
	return nil
}

func (r *Ref) setTagBranch(tag, branch string) error {
	switch {
	case tag != "" && branch != "":
		return errors.New("branch conflicts with tag")
	case tag != "":
		return r.set("ref", "refs/tags/"+strings.TrimPrefix(tag, "refs/tags/"))
	case branch != "":
		return r.set("ref", "refs/heads/"+strings.TrimPrefix(branch, "refs/heads/"))
	}
	return nil
}

func queryBool(k, v string, given bool) (bool, error) {
	if !given {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("invalid %s value: %q", k, v)
	}
	return b, nil
}

// redact hides the user and password of a URL, as BuildKit's
// urlutil.RedactCredentials does for messages and for the origin of a
// kept .git dir; what is not a URL stays as it is.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	const mask = "xxxxx"
	user := u.User.Username()
	_, hasPassword := u.User.Password()
	switch {
	case user != "" && hasPassword:
		u.User = url.UserPassword(mask, mask)
	case user != "":
		u.User = url.User(mask)
	case hasPassword:
		u.User = url.UserPassword(user, mask)
	}
	return u.String()
}
