package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// agentSocket listens on a unix socket, as an ssh agent does.
func agentSocket(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return sock
}

// --ssh picks the agent socket RUN --mount=type=ssh forwards, as buildx
// spells it: default=SOCKET over $SSH_AUTH_SOCK, and an entry without a
// path, whatever its id, is $SSH_AUTH_SOCK.
func TestSSHFlag(t *testing.T) {
	dir := project(t, prelude+"RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /sock\n")
	cache, sock := t.TempDir(), agentSocket(t)
	build := func(args ...string) (int, string, string) {
		out := t.TempDir()
		code, _, stderr := runCLI(t, append(append([]string{"--cache-dir", cache, "--no-cache", "-o", "type=local,dest=" + out}, args...), dir)...)
		data, _ := os.ReadFile(filepath.Join(out, "sock"))
		return code, string(data), stderr
	}
	t.Setenv("SSH_AUTH_SOCK", filepath.Join(t.TempDir(), "no-agent.sock"))
	for _, args := range [][]string{
		{"--ssh", "default=" + sock},
		{"--ssh", "default=" + sock, "--ssh", "github=" + sock},
	} {
		if code, got, stderr := build(args...); code != 0 || got != "/run/buildkit/ssh_agent.0\n" {
			t.Errorf("%q: exit %d, /sock %q\n%s", args, code, got, stderr)
		}
	}
	// Without --ssh, $SSH_AUTH_SOCK is forwarded: here, none is there.
	if code, _, stderr := build(); code != 1 {
		t.Errorf("without --ssh and no agent at $SSH_AUTH_SOCK: exit %d, want 1\n%s", code, stderr)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	for _, args := range [][]string{{"--ssh", "default"}, {"--ssh", "github"}, nil} {
		if code, got, stderr := build(args...); code != 0 || got != "/run/buildkit/ssh_agent.0\n" {
			t.Errorf("%q with $SSH_AUTH_SOCK: exit %d, /sock %q\n%s", args, code, got, stderr)
		}
	}
}

// What --ssh cannot give is a usage error, one line: a key file (mybuild
// loads none into an agent), two agents, no agent.
func TestSSHFlagErrors(t *testing.T) {
	sock, other := agentSocket(t), agentSocket(t)
	key := filepath.Join(t.TempDir(), "id_ed25519")
	os.WriteFile(key, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n"), 0o600)
	missing := filepath.Join(t.TempDir(), "missing")
	t.Setenv("SSH_AUTH_SOCK", "")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--ssh", "default=" + key}, "--ssh default=" + key + ": " + key + " is not a socket: mybuild forwards an ssh agent's socket and cannot load key files (ssh-add " + key + " to an agent, and give its socket)"},
		{[]string{"--ssh", "default=" + sock + "," + key}, "--ssh default=" + sock + "," + key + ": " + key + " is not a socket: "},
		{[]string{"--ssh", "default=" + sock + "," + other}, "--ssh default=" + sock + "," + other + ": one socket per id"},
		{[]string{"--ssh", "default=" + sock, "--ssh", "github=" + other}, "--ssh github=" + other + ": mybuild forwards one ssh agent to every RUN --mount=type=ssh, whatever its id, and --ssh default=" + sock + " names another (" + sock + ")"},
		{[]string{"--ssh", "default"}, "--ssh default: SSH_AUTH_SOCK is not set: start an ssh-agent (eval $(ssh-agent); ssh-add), or give its socket (--ssh default=SOCKET)"},
		{[]string{"--ssh", "=" + sock}, "--ssh =" + sock + ": missing id (default, or the id of RUN --mount=type=ssh,id=ID)"},
		{[]string{"--ssh", "default=" + missing}, "--ssh default=" + missing + ": stat " + missing + ": no such file or directory"},
	} {
		code, stdout, stderr := runCLI(t, append(tc.args, t.TempDir())...)
		first, rest, _ := strings.Cut(stderr, "\n")
		if code != 2 || stdout != "" || !strings.HasPrefix(first, "mybuild: "+tc.msg) || rest != "Run 'mybuild build --help' for usage.\n" {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.msg)
		}
	}
}
