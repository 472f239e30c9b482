package registry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/mybuild/mybuild/registry/registrytest"
)

// isolateCredentials points every place ggcr's default keychain looks at
// into empty temp dirs.
func isolateCredentials(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
}

func TestAuth(t *testing.T) {
	isolateCredentials(t)
	reg := registrytest.Start(t, registrytest.WithAuth("alice", "s3cret"))
	img := ociImage(t, "a")
	write(t, reg.Ref("app:1"), img, reg)
	ctx := context.Background()

	// The right credentials in $DOCKER_CONFIG/config.json.
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	store := openStore(t)
	res, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, img)
	if _, err := Push(ctx, reg.Ref("app:2"), res.Image, store); err != nil {
		t.Fatal(err)
	}

	// None.
	none := t.TempDir()
	t.Setenv("DOCKER_CONFIG", none)
	_, err = Pull(ctx, reg.Ref("app:1"), openStore(t), PullMissing)
	want := fmt.Sprintf("pull %s: unauthorized (no credentials for %s in %s)", reg.Ref("app:1"), reg.Host, filepath.Join(none, "config.json"))
	if err == nil || err.Error() != want || !errors.Is(err, ErrUnauthorized) {
		t.Errorf("got %v, want %s", err, want)
	}

	// Wrong ones.
	wrong := reg.DockerConfig(t, "alice", "wrong")
	t.Setenv("DOCKER_CONFIG", wrong)
	_, err = Pull(ctx, reg.Ref("app:1"), openStore(t), PullMissing)
	want = fmt.Sprintf("pull %s: unauthorized (check the credentials for %s in %s)", reg.Ref("app:1"), reg.Host, filepath.Join(wrong, "config.json"))
	if err == nil || err.Error() != want || !errors.Is(err, ErrUnauthorized) {
		t.Errorf("got %v, want %s", err, want)
	}
	_, err = Push(ctx, reg.Ref("app:3"), res.Image, store)
	want = fmt.Sprintf("push %s: unauthorized (check the credentials for %s in %s)", reg.Ref("app:3"), reg.Host, filepath.Join(wrong, "config.json"))
	if err == nil || err.Error() != want || !errors.Is(err, ErrUnauthorized) {
		t.Errorf("got %v, want %s", err, want)
	}

	// A keychain of the caller's.
	kc := staticKeychain{reg.Host: &authn.Basic{Username: "alice", Password: "s3cret"}}
	if _, err := Pull(ctx, reg.Ref("app:1"), openStore(t), PullAlways, WithKeychain(kc)); err != nil {
		t.Error(err)
	}
	_, err = Pull(ctx, reg.Ref("app:1"), openStore(t), PullAlways, WithKeychain(staticKeychain{}))
	want = fmt.Sprintf("pull %s: unauthorized (no credentials for %s)", reg.Ref("app:1"), reg.Host)
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

type staticKeychain map[string]authn.Authenticator

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := k[r.RegistryStr()]; ok {
		return a, nil
	}
	return authn.Anonymous, nil
}
