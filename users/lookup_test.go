package users

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

func files(m map[string]string) ReadFile {
	return func(name string) ([]byte, error) {
		s, ok := m[name]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

var image = files(map[string]string{
	"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\nbroken:x:abc:1::/:\n",
	"/etc/group":  "root:x:0:\nappgrp:x:1001:\nwheel:x:10:app,other\nstaff:x:50:app\n",
})

func TestLookupExec(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Exec
		err  string
	}{
		{spec: "", want: Exec{Groups: []uint32{0}, Home: "/root"}},
		{spec: "root", want: Exec{Groups: []uint32{0}, Home: "/root"}},
		{spec: "app", want: Exec{UID: 1000, GID: 1001, Groups: []uint32{1001, 10, 50}, Home: "/home/app"}},
		{spec: "1000", want: Exec{UID: 1000, GID: 1001, Groups: []uint32{1001, 10, 50}, Home: "/home/app"}},
		{spec: "4242", want: Exec{UID: 4242, Groups: []uint32{0}, Home: "/"}},
		{spec: "app:wheel", want: Exec{UID: 1000, GID: 10, Groups: []uint32{10}, Home: "/home/app"}},
		{spec: "4242:77", want: Exec{UID: 4242, GID: 77, Groups: []uint32{77}, Home: "/"}},
		{spec: "nobody", err: "unable to find user nobody"},
		{spec: "app:nogroup", err: "unable to find group nogroup"},
	} {
		got, err := LookupExec(tc.spec, image)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("LookupExec(%q) error = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("LookupExec(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func TestLookupExecWithoutFiles(t *testing.T) {
	empty := files(nil)
	got, err := LookupExec("1234:5", empty)
	if err != nil || got.UID != 1234 || got.GID != 5 || got.Home != "/" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := LookupExec("app", empty); err == nil {
		t.Fatal("a user name without /etc/passwd must fail")
	}
}

// "root" and numbers need no /etc/passwd, as in BuildKit: an image
// FROM scratch takes --chown=root:root.
func TestLookupChownWithoutPasswd(t *testing.T) {
	empty := files(nil)
	for spec, want := range map[string][2]uint32{"root": {0, 0}, "root:root": {0, 0}, "7:root": {7, 0}, "7": {7, 7}} {
		uid, gid, err := LookupChown(spec, empty)
		if err != nil || uid != want[0] || gid != want[1] {
			t.Errorf("LookupChown(%q) = %d:%d, %v; want %v", spec, uid, gid, err, want)
		}
	}
	if _, _, err := LookupChown("app", empty); err == nil {
		t.Error("a name without /etc/passwd must fail")
	}
	for spec, want := range map[string]bool{"root": false, "1000": false, "1000:root": false, "1000:": false, "app": true, "1000:grp": true, "root:grp": true} {
		if got := IsChownByName(spec); got != want {
			t.Errorf("IsChownByName(%q) = %v", spec, got)
		}
	}
}

func TestLookupChown(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		uid, gid uint32
		err      string
	}{
		{spec: "app", uid: 1000, gid: 1001},
		{spec: "1000", uid: 1000, gid: 1000},
		{spec: "55", uid: 55, gid: 55},
		{spec: "app:wheel", uid: 1000, gid: 10},
		{spec: "55:7", uid: 55, gid: 7},
		{spec: "ghost", err: "unable to find user ghost"},
		{spec: ":5", err: "missing user"},
		// As BuildKit's llb.WithUser: "root" needs no /etc/passwd, and an
		// empty group is none.
		{spec: "root", uid: 0, gid: 0},
		{spec: "55:root", uid: 55, gid: 0},
		{spec: "55:", uid: 55, gid: 55},
		{spec: "app:", uid: 1000, gid: 1001},
	} {
		uid, gid, err := LookupChown(tc.spec, image)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("LookupChown(%q) error = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || uid != tc.uid || gid != tc.gid {
			t.Errorf("LookupChown(%q) = %d:%d, %v; want %d:%d", tc.spec, uid, gid, err, tc.uid, tc.gid)
		}
	}
}
