package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The help shows double-dash flags in groups, with examples, for mybuild
// itself (which lists its commands and the flags of build) and for each
// command.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"Commands:\n  build ", "\n  run ", "\n  completion ", "Examples:\n  mybuild -t app.tar .",
			"Input flags:\n  -f, --file string", "      --build-arg stringArray", "Output flags:\n  -t, --tag stringArray", "Cache flags:", "      --pull[=always]"}},
		{[]string{"build", "-h"}, []string{"Usage:\n  mybuild build [flags] [CONTEXT]\n", "Examples:\n", "Output flags:\n", "--progress string", "written\n./build"}},
		{[]string{"help", "build"}, []string{"Usage:\n  mybuild build [flags] [CONTEXT]\n"}},
		{[]string{"run", "--help"}, []string{"Usage:\n  mybuild run [flags] IMAGE [CMD...]\n", "Command flags:\n  -e, --env stringArray", "  -t, --tty", "Sandbox flags:"}},
		{[]string{"cache", "--help"}, []string{"Commands:\n  du ", "\n  ls ", "\n  prune ", "--cache-dir string"}},
		{[]string{"cache", "prune", "--help"}, []string{"--keep-storage string", "--filter string", "-a, --all"}},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		for _, want := range tc.want {
			if code != 0 || !strings.Contains(stdout, want) {
				t.Errorf("%v: exit %d, stderr %q, stdout lacks %q:\n%s", tc.args, code, stderr, want, stdout)
			}
		}
		if strings.Contains(stdout, " -build-arg") || strings.Contains(stdout, "\n  -file") {
			t.Errorf("%v: a single-dash long flag in the help:\n%s", tc.args, stdout)
		}
	}
}

// mybuild completion bash|zsh|fish prints a script for the shell; the
// scripts ask mybuild __complete, which completes commands.
func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_mybuild",
		"zsh":  "#compdef mybuild",
		"fish": "complete -c mybuild",
	} {
		code, stdout, _ := runCLI(t, "completion", shell)
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("completion %s: exit %d, output lacks %q", shell, code, want)
		}
	}
	code, stdout, _ := runCLI(t, "__complete", "ca")
	if code != 0 || !strings.HasPrefix(stdout, "cache\t") {
		t.Errorf("__complete ca: exit %d, %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "__complete", "build", "--cache-f")
	if code != 0 || !strings.Contains(stdout, "--cache-from\t") {
		t.Errorf("__complete build --cache-f: exit %d, %q", code, stdout)
	}
}

// mybuild [flags] CONTEXT is mybuild build [flags] CONTEXT. A first
// argument naming a command is the command; a context directory of that
// name is written ./NAME.
func TestOldFormAndCommandNames(t *testing.T) {
	parent := t.TempDir()
	dir := project(t, prelude+"RUN echo x > /x\n")
	ctx := filepath.Join(parent, "cache")
	if err := os.Rename(dir, ctx); err != nil {
		t.Fatal(err)
	}
	t.Chdir(parent)
	cacheDir := t.TempDir()
	code, oldForm, stderr := runCLI(t, "--cache-dir", cacheDir, "-t", "old.tar", "./cache")
	if code != 0 {
		t.Fatalf("old form: exit %d\n%s", code, stderr)
	}
	code, newForm, stderr := runCLI(t, "build", "--cache-dir", cacheDir, "-t", "new.tar", "./cache")
	if code != 0 || newForm != oldForm || strings.Count(stderr, "CACHED") != 4 {
		t.Errorf("build: exit %d, digest %q, want %q, every step cached:\n%s", code, newForm, oldForm, stderr)
	}
	// "cache" is the command, not the directory.
	code, _, stderr = runCLI(t, "cache", "--cache-dir", cacheDir)
	if code != 2 || !strings.HasPrefix(stderr, "mybuild: cache: missing command (ls, du, prune, verify or explain)\n") {
		t.Errorf("cache: exit %d\n%s", code, stderr)
	}
	// Flags first, then a context named like a command: the old form.
	code, flagsFirst, stderr := runCLI(t, "--cache-dir", cacheDir, "cache")
	if code != 0 || flagsFirst != oldForm {
		t.Errorf("--cache-dir DIR cache: exit %d, %q\n%s", code, flagsFirst, stderr)
	}
}

// The single-dash long flags of mybuild's first command line still work,
// each with one warning.
func TestSingleDashFlags(t *testing.T) {
	dir := project(t, prelude+"ARG V\nRUN echo $V > /v\n")
	out := filepath.Join(t.TempDir(), "app.tar")
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "--build-arg", "V=legacy", dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "-cache-dir", cacheDir, "-build-arg", "V=legacy", "-file="+filepath.Join(dir, "Dockerfile"),
		"-t", out, "-no-cache", "-build-arg", "W=unused", "-pull=never", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, flag := range []string{"cache-dir", "build-arg", "file", "no-cache", "pull"} {
		warning := "mybuild: warning: -" + flag + " is deprecated: use --" + flag + "\n"
		if strings.Count(stderr, warning) != 1 {
			t.Errorf("stderr holds %q %d times, want once:\n%s", warning, strings.Count(stderr, warning), stderr)
		}
	}
	if strings.Count(stderr, "CACHED") != 1 || digestOf(stdout) != readOCIArchive(t, out).manifestDigest {
		t.Errorf("-no-cache was not applied, or the digest is not the archive's:\n%s", stderr)
	}
	if sha, _, _ := fileIn(t, out, "/v"); sha != "777d90290a75129dbd33a5ac590f4633ec91d0eb381213761c728004961c3320" {
		t.Errorf("/v has sha256 %s: -build-arg was not applied", sha)
	}
	// A flag a parent command has: mybuild cache's --cache-dir.
	code, stdout, stderr = runCLI(t, "cache", "ls", "-cache-dir", cacheDir)
	if code != 0 || !strings.Contains(stdout, "LAST USED") || strings.Count(stdout, "\n") < 4 || !strings.Contains(stderr, "-cache-dir is deprecated") {
		t.Errorf("cache ls -cache-dir: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// A single-dash flag's value that looks like a flag stays a value.
	code, _, stderr = runCLI(t, "-cache-dir", cacheDir, "-t", "-file.tar", "--bogus")
	if code != 2 || !strings.Contains(stderr, "mybuild: unknown flag: --bogus\n") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}
