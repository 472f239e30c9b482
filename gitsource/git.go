package gitsource

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
)

// Options are what git runs with beyond BuildKit's environment for it.
type Options struct {
	// SSHAuthSock is the ssh agent socket ssh remotes are fetched with.
	SSHAuthSock string
	// CAFile, when set, is a CA bundle https remotes are checked against
	// (GIT_SSL_CAINFO): mybuild passes SSL_CERT_FILE, which its own
	// downloads trust too.
	CAFile string
	// Secrets are the build's secrets by id. As in BuildKit, the first of
	// GIT_AUTH_HEADER.<host>, GIT_AUTH_TOKEN.<host>, GIT_AUTH_HEADER and
	// GIT_AUTH_TOKEN authenticates the remote over http(s): a header is
	// sent as the Authorization header, a token as basic auth with the
	// user x-access-token. It goes to git through its environment, never
	// its arguments, and keys nothing.
	Secrets map[string][]byte
	// auth is the http.<url>.extraheader setting those give the remote
	// (forRemote).
	authKey, authValue string
}

// forRemote is o for the remote: with the Authorization header the
// secrets give it, as BuildKit's git source (getAuthToken).
func (o Options) forRemote(remote string) Options {
	u, err := url.Parse(remote)
	if err != nil || u.Host == "" {
		return o // an scp-like remote (git@host:path): no header
	}
	for _, s := range []struct {
		id    string
		token bool
	}{{"GIT_AUTH_HEADER." + u.Host, false}, {"GIT_AUTH_TOKEN." + u.Host, true}, {"GIT_AUTH_HEADER", false}, {"GIT_AUTH_TOKEN", true}} {
		v, ok := o.Secrets[s.id]
		if !ok {
			continue
		}
		if s.token {
			v = []byte("basic " + base64.StdEncoding.EncodeToString(append([]byte("x-access-token:"), v...)))
		}
		o.authKey, o.authValue = "http."+tokenScope(remote)+".extraheader", "Authorization: "+string(v)
		break
	}
	return o
}

// tokenScope is the URL the header is sent to: the remote, or any of
// GitHub's, as BuildKit (and actions/checkout) do.
func tokenScope(remote string) string {
	for _, pfx := range []string{"https://github.com/", "https://www.github.com/"} {
		if strings.HasPrefix(remote, pfx) {
			return pfx
		}
	}
	return remote
}

// run runs git in dir with args, with BuildKit's environment for it (its
// gitutil.GitCLI): no prompt, no system or user config, files made with
// umask 022, file:// submodules refused, the proxy variables kept. Its
// error holds git's standard error.
func (o Options) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	argv := append([]string{"-c", "umask 022 && exec git \"$@\"", "git", "-c", "protocol.file.allow=user"}, args...)
	cmd := exec.CommandContext(ctx, "/bin/sh", argv...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_SSH_COMMAND=ssh -F " + os.DevNull + " -o StrictHostKeyChecking=no",
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"HOME=" + os.DevNull,
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
	}
	for _, v := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy"} {
		if val, ok := os.LookupEnv(v); ok {
			cmd.Env = append(cmd.Env, v+"="+val)
		}
	}
	if o.SSHAuthSock != "" {
		cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK="+o.SSHAuthSock)
	}
	if o.CAFile != "" {
		cmd.Env = append(cmd.Env, "GIT_SSL_CAINFO="+o.CAFile)
	}
	if o.authKey != "" {
		cmd.Env = append(cmd.Env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0="+o.authKey, "GIT_CONFIG_VALUE_0="+o.authValue)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		shown := make([]string, len(args))
		for i, a := range args {
			shown[i] = redact(a)
		}
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(shown, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// isCommitSHA reports whether s is a full sha1 or sha256 commit id.
func isCommitSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
