package rootfs

import (
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/mybuild/mybuild/overlay"
)

// A view kept in the store that was damaged since it was made is made
// again from its layers' blobs by the next build that reads it, which
// warns as the overlay driver does of a damaged layer; an intact one is
// used as it is, silently, and so is one without a seal made again
// silently. No step runs: the views need no root, and the driver's root
// is a scratch dir.
func TestInPlaceViewDamagedWarns(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	layers := []Layer{
		{Blob: putLayer(t, s, dir("etc/", 0o755), file("etc/a", "a\n"))},
		{Blob: putLayer(t, s, file("etc/b", "b\n"))},
	}
	// build makes a new driver, as each build does, and reads the view
	// through it; it returns the view and the driver's warnings.
	build := func() (*overlay.Stack, []string) {
		t.Helper()
		var warnings []string
		d := NewInPlace(s, t.TempDir(), nil, InPlaceWarnings(func(msg string) { warnings = append(warnings, msg) }))
		view, err := d.View(ctx, layers)
		if err != nil {
			t.Fatal(err)
		}
		return view, warnings
	}

	view, warnings := build()
	if len(warnings) > 0 {
		t.Errorf("making the view: warnings %q", warnings)
	}
	dirPath := view.Dirs()[0]
	if _, warnings := build(); len(warnings) > 0 {
		t.Errorf("an intact view: warnings %q", warnings)
	}

	// One byte overwritten in place, as a stray write would.
	f, err := os.OpenFile(dirPath+"/etc/b", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("X"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	view, warnings = build()
	chain := chainID(layers)
	// The write moved its mtime too: the warning names all it finds.
	want := regexp.MustCompile(`^unpacked layer ` + chain.String() + ` is damaged: /etc/b: (mtime changed, )?content changed; unpacking it again from its blob$`)
	if len(warnings) != 1 || !want.MatchString(warnings[0]) {
		t.Errorf("a damaged view: warnings %q, want one matching %s", warnings, want)
	}
	if got := read(t, view, "/etc/b"); got != "b\n" {
		t.Errorf("/etc/b of the view made again = %q", got)
	}
	if _, warnings := build(); len(warnings) > 0 {
		t.Errorf("the view made again: warnings %q", warnings)
	}

	// A view without a seal (made by a mybuild older than seals, or left
	// by a crash before its seal) is not trusted, and made again quietly.
	if err := os.Remove(s.LayerPath(chain) + ".seal"); err != nil {
		t.Fatal(err)
	}
	view, warnings = build()
	if len(warnings) > 0 {
		t.Errorf("a view without a seal: warnings %q", warnings)
	}
	if _, err := os.Stat(s.LayerPath(chain) + ".seal"); err != nil {
		t.Errorf("the view made again has no seal: %v", err)
	}
	if got := read(t, view, "/etc/a"); got != "a\n" {
		t.Errorf("/etc/a = %q", got)
	}
}
