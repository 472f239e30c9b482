package isolation

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/decisions.golden")

var refused = errors.New("clone: operation not permitted")

var aRange = []IDRange{{100000, 65536}}

// machines are the kinds of machine a build meets.
var machines = []struct {
	name string
	f    Facts
}{
	{"root on a host", Facts{UID: 0, User: "root", InPlaceMarker: "/usr/local/bin/in-place", SubUIDs: aRange, SubGIDs: aRange, NewUIDMap: "/usr/bin/newuidmap", NewGIDMap: "/usr/bin/newgidmap"}},
	{"root in a privileged container", Facts{UID: 0, User: "root", Markers: []string{"/.dockerenv"}, InPlaceMarker: "/usr/local/bin/in-place"}},
	{"root in an unprivileged container, mybuild's image", Facts{UID: 0, User: "root", Namespaces: refused, UserNamespace: refused,
		Markers: []string{"/.dockerenv"}, InPlaceMarker: "/mybuild/in-place", HasInPlaceMarker: true}},
	{"root in an unprivileged container, another image", Facts{UID: 0, User: "root", Namespaces: refused, UserNamespace: refused,
		Markers: []string{"/.dockerenv"}, InPlaceMarker: "/usr/local/bin/in-place"}},
	{"a user on a host", Facts{UID: 1000, User: "dev", Namespaces: refused, SubUIDs: aRange, SubGIDs: aRange, NewUIDMap: "/usr/bin/newuidmap", NewGIDMap: "/usr/bin/newgidmap"}},
	{"a user on a host, without a subuid range", Facts{UID: 1000, User: "dev", Namespaces: refused, NewUIDMap: "/usr/bin/newuidmap", NewGIDMap: "/usr/bin/newgidmap"}},
	{"a user on a host, without newuidmap", Facts{UID: 1000, User: "dev", Namespaces: refused, SubUIDs: aRange, SubGIDs: aRange}},
	{"a user where user namespaces are refused", Facts{UID: 1000, User: "dev", Namespaces: refused, UserNamespace: refused}},
	{"a user in mybuild's image, restricted pod", Facts{UID: 1000, User: "1000", Namespaces: refused, UserNamespace: refused,
		InPlaceMarker: "/mybuild/in-place", HasInPlaceMarker: true}},
}

// Every mode, asked for on every kind of machine, and auto's choice:
// the decisions and errors are in testdata/decisions.golden.
func TestDecisions(t *testing.T) {
	var b strings.Builder
	for _, m := range machines {
		fmt.Fprintf(&b, "## %s\n", m.name)
		for _, mode := range Modes {
			for _, force := range []bool{false, true} {
				if force && mode != InPlace {
					continue
				}
				d, err := Check(m.f, mode, force)
				arg := "--isolation=" + string(mode)
				if force {
					arg += " --force"
				}
				if err != nil {
					fmt.Fprintf(&b, "%s: error: %v\n", arg, err)
				} else {
					fmt.Fprintf(&b, "%s: %s (%s)\n", arg, d.Mode, d.Reason)
				}
			}
		}
	}
	golden := filepath.Join("testdata", "decisions.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("decisions differ from %s (go test -update to rewrite):\n%s", golden, b.String())
	}
}

// Container markers alone never choose the in-place mode.
func TestMarkersAreNotProof(t *testing.T) {
	f := Facts{UID: 0, Namespaces: refused, UserNamespace: refused,
		Markers: []string{"/.dockerenv", "container=docker", "cgroup 0::/kubepods/x"}, InPlaceMarker: "/x/in-place"}
	if d, err := Choose(f); err == nil {
		t.Fatalf("auto chose %s with markers but no in-place marker", d.Mode)
	}
	if _, err := Check(f, InPlace, false); !errors.Is(err, ErrNoMarker) {
		t.Errorf("forced in place without the marker: %v", err)
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseMode("chroot"); err == nil || err.Error() != `unknown isolation mode "chroot": use one of auto, namespaces, rootless, in-place` {
		t.Errorf("ParseMode(chroot): %v", err)
	}
}
