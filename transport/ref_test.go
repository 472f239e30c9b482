package transport

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
		err  string // a part of the error; "" for none
	}{
		{in: "oci-archive:/x/app.tar", want: Ref{Transport: OCIArchive, Path: "/x/app.tar"}},
		{in: "oci-archive:app.tar:v1", want: Ref{Transport: OCIArchive, Path: "app.tar", Name: "v1"}},
		{in: "oci:dir:latest", want: Ref{Transport: OCILayout, Path: "dir", Name: "latest"}},
		{in: "docker-archive:a.tar:repo/app:1.0", want: Ref{Transport: DockerArchive, Path: "a.tar", Name: "repo/app:1.0"}},
		{in: "oci:", err: `oci: missing path in "oci:"`},
		{in: "docker-archive::x", err: "docker-archive: missing path"},
		{in: "docker://registry:5000/app:1", want: Ref{Transport: Docker, Path: "registry:5000/app:1"}},
		{in: "docker://", err: "docker://: missing image reference"},
		// What names no transport is a registry reference, even a path.
		{in: "debian:bookworm", want: Ref{Transport: Docker, Path: "debian:bookworm"}},
		{in: "scratch", want: Ref{Transport: Docker, Path: "scratch"}},
		{in: "localhost:5000/app", want: Ref{Transport: Docker, Path: "localhost:5000/app"}},
		{in: "./app.tar", want: Ref{Transport: Docker, Path: "./app.tar"}},
		{in: "dir:x", want: Ref{Transport: Docker, Path: "dir:x"}},
	} {
		got, err := Parse(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Parse(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
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
	}{
		{"oci:lay:v1", Ref{Transport: OCILayout, Path: "lay", Name: "v1"}},
		{"docker://debian:12", Ref{Transport: Docker, Path: "debian:12"}},
		{"debian:12", Ref{Transport: Docker, Path: "debian:12"}},
		{"localhost:5000/app", Ref{Transport: Docker, Path: "localhost:5000/app"}},
		{"app.tar", Ref{Transport: OCIArchive, Path: "app.tar"}},
		{"/missing/app", Ref{Transport: OCIArchive, Path: "/missing/app"}},
		{"./app", Ref{Transport: OCIArchive, Path: "./app"}},
		{"image", Ref{Transport: OCIArchive, Path: "image"}},
		{dir, Ref{Transport: OCILayout, Path: dir}},
	} {
		got, err := ParseRefOrPath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRefOrPath(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseRefOrPath("oci-archive:"); err == nil {
		t.Error("oci-archive: without a path accepted")
	}
}

func TestParseDestination(t *testing.T) {
	for _, tc := range []struct {
		in, plain string
		want      Ref
		err       string
	}{
		{in: "app.tar", plain: OCIArchive, want: Ref{Transport: OCIArchive, Path: "app.tar"}},
		{in: "app.tar", plain: DockerArchive, want: Ref{Transport: DockerArchive, Path: "app.tar"}},
		{in: "out/app:1", plain: OCIArchive, want: Ref{Transport: OCIArchive, Path: "out/app:1"}},
		{in: "oci:dir:v1", plain: DockerArchive, want: Ref{Transport: OCILayout, Path: "dir", Name: "v1"}},
		{in: "docker-archive:d.tar:app:1", plain: OCIArchive, want: Ref{Transport: DockerArchive, Path: "d.tar", Name: "app:1"}},
		{in: "docker://localhost:5000/app:1", plain: OCIArchive, want: Ref{Transport: Docker, Path: "localhost:5000/app:1"}},
		{in: "app:1", plain: OCIArchive, err: "unknown destination; want PATH.tar, oci-archive:PATH, oci:DIR, docker-archive:PATH or docker://REF"},
		{in: "docker://Bad/Name", plain: OCIArchive, err: `invalid image reference "Bad/Name"`},
		{in: "docker-archive:d.tar:App:1", plain: OCIArchive, err: "invalid image name"},
		{in: "oci:", plain: OCIArchive, err: "missing path"},
	} {
		got, err := ParseDestination(tc.in, tc.plain)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseDestination(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseDestination(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseDestination("app.tar", "tarball"); !errors.Is(err, ErrUnknownTransport) {
		t.Errorf("plain transport tarball: err = %v", err)
	}
}

func TestRefString(t *testing.T) {
	for _, s := range []string{"oci-archive:a.tar", "oci:dir:v1", "docker-archive:d.tar:app:1", "docker://localhost:5000/app:1"} {
		ref, err := Parse(s)
		if err != nil || ref.String() != s {
			t.Errorf("Parse(%q).String() = %q, %v", s, ref, err)
		}
	}
	if got := (Ref{Transport: Docker, Path: "debian:12"}).String(); got != "docker://debian:12" {
		t.Errorf("a bare registry reference is shown as %q", got)
	}
}

func TestCheck(t *testing.T) {
	for ref, ok := range map[Ref]bool{
		{Transport: Docker, Path: "localhost:5000/app:1"}: true,
		{Transport: Docker, Path: "Bad/Name"}:             false,
		{Transport: OCIArchive, Path: "missing.tar"}:      true, // not read
		// A docker-archive is read by any name: only a write checks it.
		{Transport: DockerArchive, Path: "d.tar", Name: "App"}: true,
		{Transport: "tarball", Path: "t.tar"}:                  false,
	} {
		if err := Check(ref); (err == nil) != ok {
			t.Errorf("Check(%+v) = %v", ref, err)
		}
	}
}
