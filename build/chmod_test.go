package build

import (
	"io/fs"
	"strings"
	"testing"
)

// Symbolic modes give what BuildKit's setmode port gives, with a umask of
// 0 (values checked against github.com/tonistiigi/dchapes-mode).
func TestSymbolicChmod(t *testing.T) {
	const (
		dir    = fs.ModeDir
		setuid = fs.ModeSetuid
		setgid = fs.ModeSetgid
		sticky = fs.ModeSticky
	)
	for _, tc := range []struct {
		spec     string
		from, to fs.FileMode
	}{
		{"u+x", 0o644, 0o744},
		{"g=rx", 0o600, 0o650},
		{"go-w", 0o666, 0o644},
		{"=rw,+X", 0o744, 0o777},             // X: the file had an x bit
		{"=rw,+X", dir | 0o600, dir | 0o777}, // or is a directory
		{"+X", 0o644, 0o644},
		{"a+X", dir, dir | 0o111},
		{"u=rwx,go=u-w", 0o600, 0o755},
		{"go=", 0o777, 0o700},
		{"o=u", 0o740, 0o747},
		{"ug+s", 0o755, setuid | setgid | 0o755},
		{"o+s", 0o755, 0o755}, // set-id bits are not for o
		{"+t", 0o755, sticky | 0o755},
		{"=t", setuid | 0o755, setuid | sticky | 0o755}, // BSD: "=t" only sets sticky
		{"u-s,g+s", setuid | 0o755, setgid | 0o755},
		{"a-x", dir | 0o755, dir | 0o644},
	} {
		c, err := parseChmod(tc.spec)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if got := c.apply(tc.from); got != tc.to {
			t.Errorf("%s on %v: %v, want %v", tc.spec, tc.from, got, tc.to)
		}
		if c.dirPerm() != 0o755 {
			t.Errorf("%s: directories made %v, want 0755", tc.spec, c.dirPerm())
		}
	}
	for spec, want := range map[string]string{
		"999":    "it should be octal string",
		"07778":  "it should be octal string",
		"17777":  "it should be octal string",
		"0o755":  "it should be octal string",
		"u+z":    "not a symbolic mode",
		"u":      "not a symbolic mode",
		"u+r,":   "not a symbolic mode",
		"rw":     "not a symbolic mode",
		"u+r g":  "not a symbolic mode",
		"+rw, x": "not a symbolic mode",
	} {
		if _, err := parseChmod(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
}
