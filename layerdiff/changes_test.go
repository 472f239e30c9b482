package layerdiff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/overlay"
)

func listChanges(t *testing.T, upper string, lower *overlay.Stack) string {
	t.Helper()
	var lines []string
	err := Changes(t.Context(), upper, lower, func(c Change) error {
		line := fmt.Sprintf("%s %s", c.Kind, c.Path)
		if c.Opaque {
			line += " opaque"
		}
		if (c.Kind == Delete) != (c.Info == nil) || (c.Kind == Delete) != (c.HostPath == "") {
			t.Errorf("%s: Info and HostPath must be set exactly when not a delete", line)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func TestChanges(t *testing.T) {
	lower := stack(t, []fstest.Applier{
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/passwd", nil, 0o644),
		fstest.CreateFile("etc/group", nil, 0o644),
		fstest.CreateDir("replaced", 0o755),
		fstest.CreateFile("replaced/a", nil, 0o644),
		fstest.CreateFile("file-to-dir", nil, 0o644),
	})
	upper := tree(t,
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/passwd", nil, 0o644),
		fstest.CreateFile("etc/shadow", nil, 0o600),
		fstest.Whiteout("etc/group"),
		fstest.CreateDir("replaced/sub", 0o755),
		fstest.Opaque("replaced"),
		fstest.CreateFile("replaced/a", nil, 0o644),
		fstest.CreateDir("file-to-dir", 0o755),
		fstest.Opaque("file-to-dir"),
		fstest.CreateDir("new/sub", 0o755),
		fstest.Opaque("new"),
	)
	got := listChanges(t, upper, lower)
	want := strings.Join([]string{
		"modify /etc",
		"delete /etc/group",
		"modify /etc/passwd",
		"add /etc/shadow",
		"modify /file-to-dir",
		"add /new",
		"add /new/sub",
		"modify /replaced opaque",
		"add /replaced/a", // opaque: nothing of /replaced is below any more
		"add /replaced/sub",
	}, "\n")
	if got != want {
		t.Errorf("changes:\n%s\nwant:\n%s", got, want)
	}

	// Nothing below: everything is added, no directory is opaque.
	got = listChanges(t, upper, nil)
	if strings.Contains(got, "modify") || strings.Contains(got, "opaque") {
		t.Errorf("changes with no lower layers:\n%s", got)
	}
}

func TestChangesStops(t *testing.T) {
	upper := tree(t, fstest.CreateFile("a", nil, 0o644), fstest.CreateFile("b", nil, 0o644))
	stop := errors.New("stop")
	var seen []string
	err := Changes(t.Context(), upper, nil, func(c Change) error {
		seen = append(seen, c.Path)
		return stop
	})
	if !errors.Is(err, stop) || !slices.Equal(seen, []string{"/a"}) {
		t.Errorf("err = %v, seen %v", err, seen)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Changes(ctx, upper, nil, func(Change) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}
