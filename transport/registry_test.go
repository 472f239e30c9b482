package transport

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// pushFixture pushes a one-layer image for the host's platform to ref
// with go-containerregistry itself.
func pushFixture(t *testing.T, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := ggcrremote.Write(r, platformImage(t, image.FormatPlatform(image.HostPlatform()))); err != nil {
		t.Fatal(err)
	}
}

// An image built on a base pulled from a registry is pushed to another
// repository of that registry without uploading the base's layers: the
// store remembers where they came from, and the registry mounts them.
func TestSaveMountsTheBaseLayers(t *testing.T) {
	reg := registrytest.Start(t)
	pushFixture(t, reg.Ref("base:1"))
	ctx := context.Background()
	store := openStore(t)
	base, err := Load(ctx, Ref{Transport: Docker, Path: reg.Ref("base:1")}, store)
	if err != nil {
		t.Fatal(err)
	}
	app := &image.Image{Config: base.Config, Layers: append(base.Layers, putLayer(t, store, map[string]string{"app": "the app"}))}
	app.Config.Config.Cmd = []string{"app"}
	var events []registry.Progress
	progress := registry.WithProgress(func(p registry.Progress) { events = append(events, p) })
	ref, err := ParseDestination("docker://"+reg.Ref("app:1"), OCIArchive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Save(ctx, ref, app, store, WithRegistry(progress)); err != nil {
		t.Fatal(err)
	}
	mounted, uploaded := map[string]bool{}, map[string]bool{}
	for _, e := range events {
		switch {
		case e.Mounted:
			mounted[e.Digest.String()] = true
		case !e.Skipped && e.Done == e.Total:
			uploaded[e.Digest.String()] = true
		}
	}
	if !mounted[base.Layers[0].Digest.String()] || len(mounted) != 1 {
		t.Errorf("mounted %v, want the base layer %s", mounted, base.Layers[0].Digest)
	}
	if !uploaded[app.Layers[1].Digest.String()] || len(uploaded) != 1 {
		t.Errorf("uploaded %v, want the new layer %s", uploaded, app.Layers[1].Digest)
	}

	dst := openStore(t)
	got, err := Load(ctx, ref, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != 2 || got.Config.Config.Cmd[0] != "app" || layerFiles(t, dst, got.Layers[1])["app"] != "the app" {
		t.Errorf("pulled back %+v", got)
	}
}

// When the registry cannot be reached, Load uses what the reference last
// resolved to, and says so through WithWarnings; WithPull(PullAlways)
// refuses to.
func TestLoadWarnsWhenTheRegistryIsGone(t *testing.T) {
	reg := registrytest.Start(t)
	pushFixture(t, reg.Ref("app:1"))
	ctx := context.Background()
	store := openStore(t)
	ref := Ref{Transport: Docker, Path: reg.Ref("app:1")}
	var warnings []string
	warn := WithWarnings(func(w string) { warnings = append(warnings, w) })
	if _, err := Load(ctx, ref, store, warn); err != nil || len(warnings) != 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	reg.Stop()
	img, err := Load(ctx, ref, store, warn)
	if err != nil || len(img.Layers) != 1 {
		t.Fatalf("offline: err %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], reg.Host) || !strings.Contains(warnings[0], "using the image it resolved to") {
		t.Errorf("warnings %q", warnings)
	}
	if _, err := Load(ctx, ref, store, WithPull(registry.PullAlways)); !errors.Is(err, registry.ErrUnreachable) {
		t.Errorf("always, offline: err = %v", err)
	}
}
