package image

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
		ok   bool
		err  bool
	}{
		{in: "oci-archive:/x/app.tar", want: Ref{Transport: OCIArchive, Path: "/x/app.tar"}, ok: true},
		{in: "oci-archive:app.tar:v1", want: Ref{Transport: OCIArchive, Path: "app.tar", Name: "v1"}, ok: true},
		{in: "oci:dir:latest", want: Ref{Transport: OCILayout, Path: "dir", Name: "latest"}, ok: true},
		{in: "docker-archive:a.tar:repo/app:1.0", want: Ref{Transport: DockerArchive, Path: "a.tar", Name: "repo/app:1.0"}, ok: true},
		{in: "oci:", ok: true, err: true},
		{in: "docker://registry:5000/app:1", want: Ref{Transport: Docker, Path: "registry:5000/app:1"}, ok: true},
		{in: "docker://", ok: true, err: true},
		{in: "debian:bookworm", ok: false},
		{in: "scratch", ok: false},
		{in: "localhost:5000/app", ok: false},
	} {
		got, ok, err := ParseRef(tc.in)
		if ok != tc.ok || (err != nil) != tc.err || (err == nil && got != tc.want) {
			t.Errorf("ParseRef(%q) = %+v, %v, %v", tc.in, got, ok, err)
		}
	}
}

func TestParseRefOrPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "image")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, tc := range []struct {
		in   string
		want Ref
		ok   bool
	}{
		{"oci:lay:v1", Ref{Transport: OCILayout, Path: "lay", Name: "v1"}, true},
		{"docker://debian:12", Ref{Transport: Docker, Path: "debian:12"}, true},
		{"debian:12", Ref{}, false},
		{"localhost:5000/app", Ref{}, false},
		{"app.tar", Ref{Transport: OCIArchive, Path: "app.tar"}, true},
		{"/missing/app", Ref{Transport: OCIArchive, Path: "/missing/app"}, true},
		{"./app", Ref{Transport: OCIArchive, Path: "./app"}, true},
		{"image", Ref{Transport: OCIArchive, Path: "image"}, true},
		{dir, Ref{Transport: OCILayout, Path: dir}, true},
	} {
		got, ok, err := ParseRefOrPath(tc.in)
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("ParseRefOrPath(%q) = %+v, %v, %v; want %+v, %v", tc.in, got, ok, err, tc.want, tc.ok)
		}
	}
}
