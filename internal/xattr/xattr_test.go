package xattr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCarried(t *testing.T) {
	for name, want := range map[string]bool{
		"security.capability":      true,
		"user.mime_type":           true,
		"user.overlay.opaque":      false,
		"trusted.overlay.opaque":   false,
		"security.selinux":         false,
		"system.posix_acl_access":  false,
		"trusted.other":            false,
		"security.capability.more": false,
	} {
		if got := Carried(name); got != want {
			t.Errorf("Carried(%q) = %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string]bool{
		"trusted.overlay.opaque": true,
		"user.overlay.redirect":  true,
		"user.mime_type":         false,
		"security.capability":    false,
	} {
		if got := Overlay(name); got != want {
			t.Errorf("Overlay(%q) = %v, want %v", name, got, want)
		}
	}
}

// Lists and values longer than the first buffer are read whole; a
// symlink is not followed.
func TestListGetRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, nil, 0o644)
	long := strings.Repeat("v", 1000)
	var want []string
	for i := range 40 {
		name := fmt.Sprintf("user.a-rather-long-attribute-name-%02d", i)
		if err := unix.Lsetxattr(p, name, []byte(long), 0); err != nil {
			t.Skipf("user xattrs: %v", err)
		}
		want = append(want, name)
	}
	names, err := List(p)
	slices.Sort(names)
	if err != nil || !slices.Equal(names, want) {
		t.Fatalf("List = %q, %v", names, err)
	}
	if v, err := Get(p, want[0]); err != nil || string(v) != long {
		t.Fatalf("Get = %d bytes, %v", len(v), err)
	}
	if _, err := Get(p, "user.none"); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("Get of a missing xattr: %v, want ENODATA", err)
	}
	attrs, err := Read(p, append(names, "user.gone"), func(n string) bool { return n != want[1] })
	if err != nil || len(attrs) != len(want)-1 || attrs[0].Name != want[0] || attrs[1].Name != want[2] {
		t.Fatalf("Read = %d attrs, %v", len(attrs), err)
	}

	link := filepath.Join(dir, "l")
	os.Symlink(p, link)
	if names, err := List(link); err != nil || len(names) != 0 {
		t.Fatalf("List of a symlink = %q, %v; want its own, none", names, err)
	}
}
