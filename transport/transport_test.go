package transport

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// Each transport gives back what was saved to it: the same config, the
// same files in its layers, now in another store; and Inspect, without
// storing anything, names the manifest that Save wrote.
func TestRoundTrip(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	dir := t.TempDir()
	for _, s := range []string{
		"oci-archive:" + filepath.Join(dir, "app.tar"),
		"oci-archive:" + filepath.Join(dir, "named.tar") + ":v1",
		"oci:" + filepath.Join(dir, "layout"),
		"oci:" + filepath.Join(dir, "layout") + ":v2",
		"docker-archive:" + filepath.Join(dir, "docker.tar"),
		"docker-archive:" + filepath.Join(dir, "tagged.tar") + ":example/app:1",
		"docker://" + reg.Ref("app:1"),
	} {
		ref, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		src := openStore(t)
		img := testImage(t, src, s, "a", "b")
		saved, err := Save(ctx, ref, img, src)
		if err != nil {
			t.Fatalf("save %s: %v", s, err)
		}
		i, err := Inspect(ctx, ref)
		if err != nil {
			t.Fatalf("inspect %s: %v", s, err)
		}
		if i.Manifest.Digest != saved || i.Image.Config.Cmd[0] != s || len(i.History) != 2 {
			t.Errorf("inspect %s: manifest %s (saved %s), config %+v", s, i.Manifest.Digest, saved, i.Image.Config)
		}
		dst := openStore(t)
		got, err := Load(ctx, ref, dst)
		if err != nil {
			t.Fatalf("load %s: %v", s, err)
		}
		if m, _ := got.Manifest(); m.Descriptor.Digest != saved {
			t.Errorf("load %s: manifest %s, saved %s", s, m.Descriptor.Digest, saved)
		}
		if len(got.Layers) != 2 || got.Config.Config.Cmd[0] != s {
			t.Fatalf("load %s: %+v", s, got)
		}
		for n, f := range []string{"a", "b"} {
			if files := layerFiles(t, dst, got.Layers[n]); len(files) != 1 || files[f] != "content of "+f {
				t.Errorf("load %s: layer %d holds %v", s, n, files)
			}
		}
	}
}

// Errors name the operation and the reference, as image and registry
// name them.
func TestErrorsNameTheReference(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "missing.tar")
	reg := registrytest.StartInMemory(t)
	for _, tc := range []struct {
		ref  string
		do   func(Ref) error
		want string
	}{
		{"oci-archive:" + missing, func(r Ref) error { _, err := Load(ctx, r, openStore(t)); return err }, "load oci-archive:" + missing + ": "},
		{"oci-archive:" + missing, func(r Ref) error { _, err := Inspect(ctx, r); return err }, "inspect oci-archive:" + missing + ": "},
		{"oci:" + filepath.Join(t.TempDir(), "nolayout"), func(r Ref) error { _, err := Load(ctx, r, openStore(t)); return err }, "not an OCI layout"},
		{"oci-archive:" + filepath.Join(t.TempDir(), "no", "dir.tar"), func(r Ref) error {
			_, err := Save(ctx, r, testImage(t, openStore(t), "x"), openStore(t))
			return err
		}, "write oci-archive:"},
		{reg.Ref("nope:1"), func(r Ref) error { _, err := Load(ctx, r, openStore(t)); return err }, "pull " + reg.Ref("nope:1") + ": "},
		{"docker://" + reg.Ref("nope:1"), func(r Ref) error { _, err := Inspect(ctx, r); return err }, "inspect " + reg.Ref("nope:1") + ": "},
	} {
		ref, err := Parse(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.do(ref); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one with %q", tc.ref, err, tc.want)
		}
	}
	bad := Ref{Transport: "tarball", Path: "t.tar"}
	if _, err := Load(ctx, bad, openStore(t)); !errors.Is(err, ErrUnknownTransport) {
		t.Errorf("load tarball: err = %v", err)
	}
	if _, err := Save(ctx, bad, &image.Image{}, openStore(t)); !errors.Is(err, ErrUnknownTransport) {
		t.Errorf("save tarball: err = %v", err)
	}
	if _, err := Inspect(ctx, bad); !errors.Is(err, ErrUnknownTransport) {
		t.Errorf("inspect tarball: err = %v", err)
	}
}
