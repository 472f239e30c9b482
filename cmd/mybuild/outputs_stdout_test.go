package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// -o - writes the root filesystem to stdout as a tar, as buildx does;
// type=oci,dest=- the OCI archive. stdout then holds that and nothing
// else, and no file is left behind.
func TestOutputToStdout(t *testing.T) {
	dir := project(t, prelude+"RUN echo hi > /hi\n")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cacheDir := t.TempDir()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-o", "-"}, []string{"bin/busybox", "hi"}},
		{[]string{"--output", "type=tar,dest=-"}, []string{"bin/busybox", "hi"}},
		{[]string{"--output", "type=oci,dest=-"}, []string{"oci-layout", "index.json"}},
		{[]string{"--output", "type=docker,dest=-", "-t", "app:1"}, []string{"manifest.json"}},
	} {
		code, stdout, stderr := runCLI(t, append(append([]string{"build", "--cache-dir", cacheDir}, c.args...), dir)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", c.args, code, stderr)
		}
		out := filepath.Join(t.TempDir(), "stdout.tar")
		os.WriteFile(out, []byte(stdout), 0o644)
		names := tarNames(t, out)
		for _, w := range c.want {
			if !names[w] {
				t.Errorf("%v: no %s in the tar on stdout: %v", c.args, w, names)
			}
		}
		if !regexp.MustCompile(`(?m)^wrote .*(=|:)-(:app:1)?$`).MatchString(stderr) || strings.Contains(stderr, "mybuild-stdout") {
			t.Errorf("%v: the progress does not say stdout was written:\n%s", c.args, stderr)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}

func TestOutputToStdoutErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		out  string
	}{
		{[]string{"-o", "type=local,dest=-", "."}, "mybuild: --output type=local,dest=-: type=local writes a directory, which cannot go to stdout: type=tar writes the same files as one tar\n"},
		{[]string{"-o", "-", "-o", "type=oci,dest=-", "."}, "mybuild: --output type=oci,dest=-: only one output can go to stdout (dest=-)\n"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, tc.out) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.out)
		}
	}
}
