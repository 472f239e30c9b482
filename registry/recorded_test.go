package registry

import (
	"context"
	"os"
	"testing"

	"github.com/mybuild/mybuild/registry/registrytest"
)

// Recorded is, without the registry, what a pull of the same tag gives
// while the tag names the same image: only for a tag pulled before whose
// every layer the store holds, and that a pull would ask the registry
// about.
func TestRecorded(t *testing.T) {
	reg := registrytest.Start(t)
	ref := reg.Ref("app:1")
	write(t, ref, ociImage(t, "a"), nil)
	store := openStore(t)
	if _, ok := Recorded(ref, store, PullMissing); ok {
		t.Error("a tag never pulled is recorded")
	}
	res, err := Pull(context.Background(), ref, store, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	reg.Stop() // Recorded asks no registry
	got, ok := Recorded(ref, store, PullMissing)
	if !ok {
		t.Fatal("the tag pulled is not recorded")
	}
	gotM, err := got.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	wantM, err := res.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != res.Digest || got.RefDigest != res.RefDigest || got.Ref != res.Ref || gotM.Descriptor.Digest != wantM.Descriptor.Digest {
		t.Errorf("recorded %s (%s, %s, manifest %s), pulled %s (%s, %s, manifest %s)", got.Ref, got.Digest, got.RefDigest,
			gotM.Descriptor.Digest, res.Ref, res.Digest, res.RefDigest, wantM.Descriptor.Digest)
	}
	if _, ok := Recorded(ref, store, PullNever); ok {
		t.Error("recorded with the pull policy never, whose pull asks no registry anyway")
	}
	if _, ok := Recorded(reg.Ref("app@"+res.RefDigest.String()), store, PullMissing); ok {
		t.Error("a reference by digest is recorded, whose pull asks no registry anyway")
	}
	if err := os.Remove(store.BlobPath(res.Image.Layers[0].Digest)); err != nil {
		t.Fatal(err)
	}
	if _, ok := Recorded(ref, store, PullMissing); ok {
		t.Error("recorded, with a layer blob gone from the store")
	}
}
