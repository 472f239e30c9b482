package main

import (
	"os"
	"path/filepath"
	"strings"
)

// sshHelp is --ssh's help: buildx's format, and what mybuild makes of it.
const sshHelp = "SSH agent socket to expose to the build (format: \"default|<id>[=<socket>]\"; default: $SSH_AUTH_SOCK), " +
	"for RUN --mount=type=ssh, ADD of a git repository and a git context over ssh. mybuild forwards one agent to every ssh mount, whatever its id, and loads no key files: ssh-add them to an agent"

// sshAgent reads --ssh as buildx spells it, default|ID[=SOCKET|KEY[,KEY]],
// and returns the agent socket RUN --mount=type=ssh forwards. An entry
// without a path is $SSH_AUTH_SOCK, as in buildx. mybuild forwards one
// agent, to every ssh mount whatever its id, so the entries must name
// one socket; a path that is not a socket is a key file, which mybuild
// cannot load into an agent of its own as BuildKit does: refused. With no
// --ssh, $SSH_AUTH_SOCK is forwarded, as mybuild always did ("" when it
// is unset: an ssh mount then fails, saying so).
func (o *buildOptions) sshAgent() (string, error) {
	if len(o.ssh) == 0 {
		return os.Getenv("SSH_AUTH_SOCK"), nil
	}
	sock, from := "", ""
	for _, v := range o.ssh {
		id, paths, _ := strings.Cut(v, "=")
		if id == "" {
			return "", usagef("--ssh %s: missing id (default, or the id of RUN --mount=type=ssh,id=ID)", v)
		}
		p, err := sshSocket(v, paths)
		if err != nil {
			return "", err
		}
		if sock != "" && p != sock {
			return "", usagef("--ssh %s: mybuild forwards one ssh agent to every RUN --mount=type=ssh, whatever its id, and --ssh %s names another (%s)", v, from, sock)
		}
		sock, from = p, v
	}
	return sock, nil
}

// sshSocket is the socket of one --ssh value v whose paths are paths:
// $SSH_AUTH_SOCK when there are none.
func sshSocket(v, paths string) (string, error) {
	if paths == "" {
		p := os.Getenv("SSH_AUTH_SOCK")
		if p == "" {
			return "", usagef("--ssh %s: SSH_AUTH_SOCK is not set: start an ssh-agent (eval $(ssh-agent); ssh-add), or give its socket (--ssh %s=SOCKET)", v, v)
		}
		return p, nil
	}
	list := strings.Split(paths, ",")
	for _, p := range list {
		fi, err := os.Stat(p)
		if err != nil {
			return "", usagef("--ssh %s: %w", v, err)
		}
		if fi.Mode()&os.ModeSocket == 0 {
			return "", usagef("--ssh %s: %s is not a socket: mybuild forwards an ssh agent's socket and cannot load key files (ssh-add %s to an agent, and give its socket)", v, p, p)
		}
	}
	if len(list) > 1 {
		return "", usagef("--ssh %s: one socket per id", v)
	}
	// The socket is bound into steps from elsewhere than the working dir.
	abs, err := filepath.Abs(list[0])
	if err != nil {
		return "", usagef("--ssh %s: %w", v, err)
	}
	return abs, nil
}
