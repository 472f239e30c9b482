package gitsource

import (
	"bytes"
	"context"
	"fmt"
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
