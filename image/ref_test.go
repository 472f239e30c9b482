package image

import "testing"

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
