package gitsource

import (
	"reflect"
	"strings"
	"testing"
)

// Parse reads a source as BuildKit's dfgitutil.ParseGitRef does.
func TestParse(t *testing.T) {
	yes, no := true, false
	for src, want := range map[string]*Ref{
		"https://github.com/moby/buildkit.git":                  {Remote: "https://github.com/moby/buildkit.git"},
		"https://github.com/moby/buildkit.git#v0.1:docs/../sub": {Remote: "https://github.com/moby/buildkit.git", Ref: "v0.1", Subdir: "sub"},
		"http://example.com/r.git?branch=dev&subdir=x":          {Remote: "http://example.com/r.git", Ref: "refs/heads/dev", Subdir: "x"},
		"git://example.com/r?tag=v1&keep-git-dir":               {Remote: "git://example.com/r", Ref: "refs/tags/v1", KeepGitDir: &yes},
		"git://example.com/r?keep-git-dir=false&submodules=0":   {Remote: "git://example.com/r", KeepGitDir: &no, SkipSubmodules: true},
		"ssh://git@example.com/r.git?checksum=abc":              {Remote: "ssh://git@example.com/r.git", Checksum: "abc", SSH: true},
		"git@github.com:moby/buildkit.git#main":                 {Remote: "git@github.com:moby/buildkit.git", Ref: "main", SSH: true},
		"git@github.com:moby/buildkit.git?commit=0123#main":     {Remote: "git@github.com:moby/buildkit.git", Ref: "main", Checksum: "0123", SSH: true},
	} {
		got, ok, err := Parse(src)
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %+v, %v, %v; want %+v", src, got, ok, err, want)
		}
	}
	for _, src := range []string{"https://example.com/file.tar.gz", "https://example.com/x#a:b", "ftp://example.com/x.git", "github.com/moby/buildkit", "./a@b:c", "dir/file"} {
		if _, ok, err := Parse(src); ok || err != nil {
			t.Errorf("Parse(%q): a git source (%v)", src, err)
		}
	}
	for src, want := range map[string]string{
		"git://h/r?ref=a#b":          "ref conflicts",
		"git://h/r?tag=a&branch=b":   "branch conflicts with tag",
		"git://h/r?subdir=":          `query "subdir" has no value`,
		"git://h/r?nope=1":           `unexpected query "nope"`,
		"git://h/r?keep-git-dir=yes": "invalid keep-git-dir value",
	} {
		if _, ok, err := Parse(src); !ok || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, %v; want %q", src, ok, err, want)
		}
	}
}

// Credentials never show, in messages or a kept .git dir's origin: as
// BuildKit's RedactCredentials, a user alone is masked too.
func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:token@example.com/r.git": "https://xxxxx:xxxxx@example.com/r.git",
		"ssh://git@example.com/r.git":          "ssh://xxxxx@example.com/r.git",
		"https://example.com/r.git":            "https://example.com/r.git",
		"git@github.com:moby/buildkit.git":     "git@github.com:moby/buildkit.git",
		"ls-remote":                            "ls-remote",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
