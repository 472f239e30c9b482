package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mybuild/mybuild/gitsource"
)

// gitContext fetches a CONTEXT that is a git repository, as buildx takes
// one (https://host/repo.git#ref:subdir, git://..., git@host:path), into
// a directory of its own, and returns args naming that directory instead,
// with a relative -f read inside it, as BuildKit reads it in the
// repository. done removes the checkout. Any other CONTEXT is left as it
// is.
func (o *buildOptions) gitContext(ctx context.Context, args []string) (local []string, done func(), err error) {
	done = func() {}
	if len(args) != 1 {
		return args, done, nil
	}
	ref, ok, err := gitsource.Parse(args[0])
	if err != nil {
		return nil, done, usagef("CONTEXT %s: %v", args[0], err)
	}
	if !ok {
		return args, done, nil
	}
	secrets, err := parseSecrets(o.secrets) // GIT_AUTH_TOKEN, GIT_AUTH_HEADER
	if err != nil {
		return nil, done, err
	}
	sock, err := o.sshAgent()
	if err != nil {
		return nil, done, err
	}
	tmp, err := os.MkdirTemp("", "mybuild-git-context-")
	if err != nil {
		return nil, done, err
	}
	done = func() { os.RemoveAll(tmp) }
	dir := filepath.Join(tmp, "context")
	if err := fetchGitContext(ctx, ref, tmp, dir, sock, secrets); err != nil {
		done()
		return nil, func() {}, fmt.Errorf("git context %s: %w", args[0], err)
	}
	if o.file != "" && o.file != "-" && !filepath.IsAbs(o.file) {
		o.file = filepath.Join(dir, o.file)
	}
	return []string{dir}, done, nil
}

// fetchGitContext checks ref out into dir, below tmp, with BuildKit's git
// commands; the ssh agent at sock (--ssh, else $SSH_AUTH_SOCK) serves
// ssh remotes, SSL_CERT_FILE is trusted
// for https ones, and the secrets GIT_AUTH_TOKEN and GIT_AUTH_HEADER
// authenticate them, as in ADD.
func fetchGitContext(ctx context.Context, ref *gitsource.Ref, tmp, dir, sock string, secrets map[string][]byte) error {
	opts := gitsource.Options{SSHAuthSock: sock, CAFile: os.Getenv("SSL_CERT_FILE"), Secrets: secrets}
	res, err := gitsource.Resolve(ctx, ref, opts)
	if err != nil {
		return err
	}
	// dir is made by Checkout, 0755 whatever the umask.
	scratch := filepath.Join(tmp, "scratch")
	if err := os.Mkdir(scratch, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	return gitsource.Checkout(ctx, ref, res, scratch, dir, opts)
}
