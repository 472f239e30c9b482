package build

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// walkBytes reports whether any file under dir holds needle.
func walkBytes(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var found []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, needle) {
				found = append(found, p)
			}
		}
		return nil
	})
	return found
}

func TestSecretMounts(t *testing.T) {
	secret := "s3cret-value-7f1e"
	// The Dockerfile must not hold the secret: it compares hashes.
	sum := digest.FromString(secret).Encoded()
	df := busyboxPrelude + `RUN --mount=type=secret,id=token test "$(sha256sum < /run/secrets/token)" = "` + sum + `  -" && stat -c '%a %u' /run/secrets/token > /stat
RUN --mount=type=secret,id=token,target=/etc/tok,mode=0440,uid=5 stat -c '%a %u' /etc/tok > /stat2
RUN --mount=type=secret,id=token,env=TOKEN test "$(printf %s "$TOKEN" | sha256sum)" = "` + sum + `  -" && echo ok > /env
RUN --mount=type=secret,id=absent echo "an optional secret that is missing is skipped" > /optional
`
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	cacheDir := t.TempDir()
	out, _ := testBuild(t, dir, cacheDir, func(o *Options) { o.Secrets = map[string][]byte{"token": []byte(secret)} })
	for p, content := range map[string]string{"/stat": "400 0\n", "/stat2": "440 5\n", "/env": "ok\n"} {
		if l := lineOf(t, out, p); !strings.Contains(l, digest.FromString(content).Encoded()) {
			t.Errorf("%s: %s, want %q", p, l, content)
		}
	}
	if l := lineOf(t, out, "/run/secrets/token"); l != "" {
		t.Errorf("the secret's mount point reached the image: %s", l)
	}
	for _, where := range []string{cacheDir, filepath.Dir(out)} {
		if found := walkBytes(t, where, []byte(secret)); len(found) > 0 {
			t.Errorf("the secret was written to %v", found)
		}
	}
	// Changing the secret does not change keys, as in BuildKit: the step
	// is not rerun (and the secret not written) for it.
	_, res := testBuild(t, dir, cacheDir, func(o *Options) { o.Secrets = map[string][]byte{"token": []byte(secret)} })
	if strings.Contains(cachedSteps(res), "R") {
		t.Errorf("rebuild: %s", cachedSteps(res))
	}

	req := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nRUN --mount=type=secret,id=x,required [\"/x\"]\n"})
	_, _, err := tryBuild(t, req, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `Dockerfile:2: [2/2] RUN --mount=type=secret,id=x,required ["/x"]: secret "x" is required: pass --secret id=x,src=FILE`) {
		t.Errorf("required secret: %v", err)
	}
}

func TestSSHMount(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	df := busyboxPrelude + "RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /sock\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	out, _ := testBuild(t, dir, t.TempDir(), func(o *Options) { o.SSHAuthSock = sock })
	if l := lineOf(t, out, "/sock"); !strings.Contains(l, digest.FromString(defaultSSHTarget+"\n").Encoded()) {
		t.Errorf("/sock: %s", l)
	}
	_, _, err = tryBuild(t, dir, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK is not set") {
		t.Errorf("without an agent: %v", err)
	}
}

// A bind mount of the context is keyed by what it shows: a change there
// reruns the step, a change to an ignored file does not.
func TestBindMountKey(t *testing.T) {
	df := busyboxPrelude + "RUN --mount=type=bind,source=src,target=/src cat /src/* > /all\n"
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": df, "src/a": "a\n", "src/ignored": "i\n", ".dockerignore": "src/ignored\n",
	}))
	cacheDir := t.TempDir()
	out, _ := testBuild(t, dir, cacheDir)
	if l := lineOf(t, out, "/all"); !strings.Contains(l, digest.FromString("a\n").Encoded()) {
		t.Errorf("/all: %s (an ignored file was visible?)", l)
	}
	os.WriteFile(filepath.Join(dir, "src/ignored"), []byte("changed\n"), 0o644)
	if _, res := testBuild(t, dir, cacheDir); cachedSteps(res) != "CCCC" {
		t.Errorf("after changing an ignored file: %s, want all cached", cachedSteps(res))
	}
	os.WriteFile(filepath.Join(dir, "src/a"), []byte("b\n"), 0o644)
	if _, res := testBuild(t, dir, cacheDir); cachedSteps(res) != "CCCR" {
		t.Errorf("after changing a bound file: %s, want the RUN to run", cachedSteps(res))
	}
}

func TestCacheMountOwner(t *testing.T) {
	df := busyboxPrelude + "RUN --mount=type=cache,target=/c,uid=33,gid=44,mode=0750,id=mine,sharing=locked stat -c '%u %g %a' /c > /owner\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	out, _ := testBuild(t, dir, t.TempDir())
	if l := lineOf(t, out, "/owner"); !strings.Contains(l, digest.FromString("33 44 750\n").Encoded()) {
		t.Errorf("/owner: %s", l)
	}
}

// A cache mount with from= starts as a copy of the stage's source= path
// (its root when none; its /cache, or else a new directory, when uid,
// gid or mode apply), kept from step to step like any cache, as in
// BuildKit.
func TestCacheMountFromStage(t *testing.T) {
	df := strings.Replace(busyboxPrelude, "FROM scratch", "FROM scratch AS base", 1) + `RUN mkdir -p /seed/sub /cache && echo s > /seed/f && chown 5:6 /seed/f && chmod 640 /seed/f && touch /cache/in-stage
FROM scratch AS empty
COPY busybox /busybox
FROM base
RUN --mount=type=cache,from=base,source=/seed,target=/c stat -c '%n %u:%g %a' /c/f > /r1 && echo new > /c/new
RUN --mount=type=cache,from=base,source=seed,target=/c ls /c > /r2
RUN --mount=type=cache,from=base,target=/c ls /c/seed > /r3
RUN --mount=type=cache,from=base,uid=7,target=/c ls /c > /r4
RUN --mount=type=cache,from=empty,uid=7,mode=0700,target=/c stat -c '%u %a' /c > /r5
`
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	out, _ := testBuild(t, dir, t.TempDir())
	for p, content := range map[string]string{"/r1": "/c/f 5:6 640\n", "/r2": "f\nnew\nsub\n", "/r3": "f\nsub\n", "/r4": "in-stage\n", "/r5": "7 700\n"} {
		if l := lineOf(t, out, p); !strings.Contains(l, digest.FromString(content).Encoded()) {
			t.Errorf("%s: %s, want %q", p, l, content)
		}
	}
	if l := lineOf(t, out, "/seed/new"); l != "" {
		t.Errorf("a cache write reached the stage: %s", l)
	}

	for df, want := range map[string]string{
		"RUN --mount=type=cache,from=base,source=/nope,target=/c true\n": "source /nope: not found in the stage",
		"RUN --mount=type=cache,source=/x,target=/c true\n":              "source=/x needs from=",
	} {
		dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": strings.Replace(busyboxPrelude, "FROM scratch", "FROM scratch AS base", 1) + "FROM base\n" + df}))
		if _, _, err := tryBuild(t, dir, t.TempDir()); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Dockerfile:5: ") {
			t.Errorf("%s: %v, want %q", df, err, want)
		}
	}
}
