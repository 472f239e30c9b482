package layerdiff

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// etcCanary is created under /etc if an extraction follows "a -> /etc" on
// the host. It is a name no system has, so a failing test harms nothing.
const etcCanary = "mybuild-layerdiff-canary"

func TestExtractHostile(t *testing.T) {
	tests := []struct {
		name    string
		ents    func(s *sandbox) []ent
		parents func(t *testing.T, s *sandbox) *overlay.Stack
		wantErr string // "" for success
		check   func(t *testing.T, s *sandbox)
	}{
		{
			name:    "dotdot",
			ents:    func(*sandbox) []ent { return []ent{reg("../x", "evil")} },
			wantErr: `layer entry "../x": path escapes the layer root`,
		},
		{
			name:    "dotdot nested",
			ents:    func(*sandbox) []ent { return []ent{reg("a/../../x", "evil")} },
			wantErr: `layer entry "a/../../x": path escapes the layer root`,
		},
		{
			name:    "dotdot after absolute",
			ents:    func(*sandbox) []ent { return []ent{reg("/../x", "evil")} },
			wantErr: "path escapes the layer root",
		},
		{
			name:  "dotdot that stays inside",
			ents:  func(*sandbox) []ent { return []ent{reg("a/../b", "fine")} },
			check: wantFile("b", "fine"),
		},
		{
			name: "absolute and dotted names",
			ents: func(*sandbox) []ent {
				return []ent{reg("/abs", "1"), reg("./rel", "2"), reg("//x/./y", "3"), dir("./"), dir("/")}
			},
			check: func(t *testing.T, s *sandbox) {
				wantFile("abs", "1")(t, s)
				wantFile("rel", "2")(t, s)
				wantFile("x/y", "3")(t, s)
			},
		},
		{
			name: "write through an absolute symlink",
			ents: func(s *sandbox) []ent {
				return []ent{symlink("a", s.outside), reg("a/evil", "evil"), dir("a/d/"), reg("a/d/f", "evil")}
			},
			check: func(t *testing.T, s *sandbox) { wantFile(s.outside+"/evil", "evil")(t, s) },
		},
		{
			name: "write through a symlink to /etc",
			ents: func(*sandbox) []ent {
				return []ent{symlink("a", "/etc"), reg("a/"+etcCanary, "evil")}
			},
			check: func(t *testing.T, s *sandbox) {
				if _, err := os.Lstat("/etc/" + etcCanary); err == nil {
					os.Remove("/etc/" + etcCanary)
					t.Fatal("wrote to the host's /etc")
				}
				wantFile("etc/"+etcCanary, "evil")(t, s)
			},
		},
		{
			name:  "write through a symlink climbing out",
			ents:  func(*sandbox) []ent { return []ent{symlink("a", "../../.."), reg("a/evil", "evil")} },
			check: wantFile("evil", "evil"),
		},
		{
			name: "write through a chain of symlinks",
			ents: func(*sandbox) []ent {
				return []ent{symlink("a", "b"), symlink("b", "../c/../.."), reg("a/x/evil", "evil")}
			},
			check: wantFile("x/evil", "evil"),
		},
		{
			// The parent directories found for one entry are reused for
			// the next ones: a replaced directory must not be.
			name: "directory replaced by a symlink after entries went into it",
			ents: func(s *sandbox) []ent {
				return []ent{dir("d/"), reg("d/f", "in"), symlink("d", s.outside), reg("d/g", "evil")}
			},
			check: func(t *testing.T, s *sandbox) { wantFile(s.outside+"/g", "evil")(t, s) },
		},
		{
			name:    "directory replaced by a file after entries went into it",
			ents:    func(*sandbox) []ent { return []ent{dir("d/"), reg("d/f", "in"), reg("d", "file"), reg("d/g", "x")} },
			wantErr: `layer entry "d/g": parent d: not a directory`,
		},
		{
			name:  "symlink replaced by a file",
			ents:  func(s *sandbox) []ent { return []ent{symlink("s", s.sentinel), reg("s", "replaced")} },
			check: func(t *testing.T, s *sandbox) { wantFile("s", "replaced")(t, s) },
		},
		{
			name:  "symlink replaced by a directory",
			ents:  func(s *sandbox) []ent { return []ent{symlink("d", s.outside), dir("d/"), reg("d/f", "in")} },
			check: wantFile("d/f", "in"),
		},
		{
			name: "device through a symlink",
			ents: func(s *sandbox) []ent {
				return []ent{symlink("a", s.outside), {Header: tar.Header{Typeflag: tar.TypeChar, Name: "a/null", Devmajor: 1, Devminor: 3, Mode: 0o666}}}
			},
		},
		{
			name: "directory times after the directory became a symlink",
			ents: func(s *sandbox) []ent {
				return []ent{dir("d/"), dir("d/e/"), symlink("d", s.outside)}
			},
		},
		{
			name:    "symlink loop",
			ents:    func(*sandbox) []ent { return []ent{symlink("a", "a"), reg("a/x", "evil")} },
			wantErr: "any",
		},
		{
			name:    "hard link out of the root",
			ents:    func(*sandbox) []ent { return []ent{hardlink("x", "../../etc/passwd")} },
			wantErr: `layer entry "x": link target "../../etc/passwd": path escapes the layer root`,
		},
		{
			name:    "hard link to an absolute path not in the layer",
			ents:    func(*sandbox) []ent { return []ent{hardlink("x", "/etc/passwd")} },
			wantErr: fswrite.ErrLinkNotFound.Error(),
		},
		{
			name: "hard link through a symlink",
			ents: func(s *sandbox) []ent {
				return []ent{symlink("s", s.parent), hardlink("x", "s/sentinel")}
			},
			wantErr: fswrite.ErrLinkNotFound.Error(),
		},
		{
			name: "hard link through a symlink in a layer below",
			ents: func(*sandbox) []ent { return []ent{dir("a/"), hardlink("x", "a/sentinel")} },
			parents: func(t *testing.T, s *sandbox) *overlay.Stack {
				return stack(t, []fstest.Applier{fstest.Symlink(s.parent, "a")})
			},
			wantErr: fswrite.ErrLinkNotFound.Error(),
			check: func(t *testing.T, s *sandbox) {
				// A lookup that stats host paths would answer with the
				// host's file through the lower symlink, and it would be
				// copied in; overlay.Stack.Lstat walks each layer one
				// component at a time.
				if _, err := os.Lstat(filepath.Join(s.root, "x")); err == nil {
					t.Error("a file outside the layers was copied in")
				}
			},
		},
		{
			name: "implicit dir through a symlink in a layer below",
			ents: func(*sandbox) []ent { return []ent{reg("a/outside/f", "x")} },
			parents: func(t *testing.T, s *sandbox) *overlay.Stack {
				if err := os.Chmod(s.outside, 0o711); err != nil {
					t.Fatal(err)
				}
				return stack(t, []fstest.Applier{fstest.Symlink(s.parent, "a")})
			},
			check: func(t *testing.T, s *sandbox) {
				// a/outside is not below: it must not take the metadata of
				// the host dir the lower symlink points at.
				fi, err := os.Lstat(filepath.Join(s.root, "a", "outside"))
				if err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("a/outside: %v, %v; want 0755", fi.Mode(), err)
				}
			},
		},
		{
			name: "hard link to a symlink links the symlink",
			ents: func(s *sandbox) []ent { return []ent{symlink("s", s.sentinel), hardlink("h", "s")} },
			check: func(t *testing.T, s *sandbox) {
				if target, err := os.Readlink(filepath.Join(s.root, "h")); err != nil || target != s.sentinel {
					t.Errorf("h: %q, %v", target, err)
				}
			},
		},
		{
			name: "file replacing a hard link",
			ents: func(*sandbox) []ent { return []ent{reg("f", "first"), hardlink("g", "f"), reg("g", "second")} },
			check: func(t *testing.T, s *sandbox) {
				wantFile("f", "first")(t, s)
				wantFile("g", "second")(t, s)
			},
		},
		{
			name: "overlay xattrs injected",
			ents: func(*sandbox) []ent {
				d := dir("d/")
				d.PAXRecords = map[string]string{
					paxXattr + "trusted.overlay.opaque":   "y",
					paxXattr + "trusted.overlay.redirect": "/elsewhere",
					paxXattr + "user.overlay.opaque":      "y",
					paxXattr + "user.ok":                  "kept",
				}
				f := reg("d/f", "")
				f.PAXRecords = map[string]string{paxXattr + "trusted.overlay.metacopy": ""}
				return []ent{d, f}
			},
			check: func(t *testing.T, s *sandbox) {
				for _, p := range []string{"d", "d/f"} {
					names, err := xattr.List(filepath.Join(s.root, p))
					if err != nil {
						t.Fatal(err)
					}
					for _, n := range names {
						if xattr.Overlay(n) {
							t.Errorf("%s has %s", p, n)
						}
					}
				}
				if v, err := xattr.Get(filepath.Join(s.root, "d"), "user.ok"); err != nil || string(v) != "kept" {
					t.Errorf("user.ok: %q, %v", v, err)
				}
			},
		},
		{
			name:    "whiteout of the parent",
			ents:    func(*sandbox) []ent { return []ent{reg("a/.wh..", "")} },
			wantErr: "invalid whiteout name",
		},
		{
			name:    "whiteout out of the root",
			ents:    func(*sandbox) []ent { return []ent{reg("../.wh.x", "")} },
			wantErr: "path escapes the layer root",
		},
		{
			name: "whiteout through a symlink",
			ents: func(s *sandbox) []ent { return []ent{symlink("a", s.parent), reg("a/.wh.sentinel", "")} },
			check: func(t *testing.T, s *sandbox) {
				fi, err := os.Lstat(filepath.Join(s.root, s.parent, "sentinel"))
				if err != nil || !overlay.IsWhiteout(fi) {
					t.Errorf("whiteout not made inside the root: %v", err)
				}
			},
		},
		{
			name:    "unknown entry type",
			ents:    func(*sandbox) []ent { return []ent{{Header: tar.Header{Typeflag: 'V', Name: "vol"}}} },
			wantErr: "unsupported entry type",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			var opts []ExtractOption
			if tc.parents != nil {
				opts = append(opts, WithParents(tc.parents(t, s)))
			}
			err := Extract(t.Context(), bytes.NewReader(mkTar(t, tc.ents(s)...)), s.root, opts...)
			t.Logf("err = %v", err)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.wantErr == "any" && err == nil, tc.wantErr != "" && tc.wantErr != "any" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			s.check(t)
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

// wantFile checks a regular file inside the root (p relative to it, or an
// absolute path as seen from inside it).
func wantFile(p, content string) func(t *testing.T, s *sandbox) {
	return func(t *testing.T, s *sandbox) {
		t.Helper()
		host := filepath.Join(s.root, p)
		fi, err := os.Lstat(host)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(host)
		if err != nil || !fi.Mode().IsRegular() || string(data) != content {
			t.Errorf("%s: %v %q %v, want a file holding %q", p, fi.Mode(), data, err, content)
		}
	}
}

// TestExtractNoFollowOnMetadata checks that an entry's metadata goes to the
// entry and not to what an earlier symlink of the same name pointed at.
func TestExtractNoFollowOnMetadata(t *testing.T) {
	s := newSandbox(t)
	l := symlink("l", s.sentinel)
	l.Uid, l.Gid = 1234, 1234
	l.PAXRecords = map[string]string{paxXattr + "user.x": "on a symlink: skipped"}
	if err := Extract(t.Context(), bytes.NewReader(mkTar(t, l)), s.root); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(s.root, "l"), &st); err != nil || st.Uid != 1234 {
		t.Errorf("symlink owner %d, %v", st.Uid, err)
	}
	s.check(t)
}
