package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/registry/registrytest"
)

func TestPullPolicies(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	store := openStore(t)
	ref := reg.Ref("app:1")
	c := newCounter()
	pull := func(policy PullPolicy) (*PullResult, error) {
		c.reset()
		return Pull(ctx, ref, store, policy, WithTransport(c))
	}

	// never, before any pull: nothing to use, and no request.
	_, err := pull(PullNever)
	if want := fmt.Sprintf(`pull %s: not pulled before, and the pull policy "never" does not allow the network`, ref); err == nil || err.Error() != want || !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want %s", err, want)
	}
	if n := c.get("total"); n != 0 {
		t.Errorf("never: %d requests", n)
	}

	v1img := ociImage(t, "v1")
	write(t, ref, v1img, nil)
	res, err := pull(PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, v1img)

	// The tag moves: missing and always both see it.
	v2img := ociImage(t, "v2")
	write(t, ref, v2img, nil)
	if res, err = pull(PullMissing); err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, v2img)
	v3img := ociImage(t, "v3")
	write(t, ref, v3img, nil)
	if res, err = pull(PullAlways); err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, v3img)

	// never: the last resolution, without a request.
	if res, err = pull(PullNever); err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, v3img)
	if n := c.get("total"); n != 0 {
		t.Errorf("never: %d requests", n)
	}

	reg.Stop()

	// missing, offline: the last resolution, with a warning.
	if res, err = pull(PullMissing); err != nil {
		t.Fatal(err)
	}
	checkPulled(t, store, res, v3img)
	want := fmt.Sprintf("%s: cannot reach registry %s: connection refused; using the image it resolved to on ", ref, reg.Host)
	if !strings.HasPrefix(res.Warning, want) || !strings.HasSuffix(res.Warning, "("+manifestDigest(t, v3img).String()+")") {
		t.Errorf("warning %q, want %q...", res.Warning, want)
	}
	t.Log(res.Warning)

	// always, offline: an error.
	_, err = pull(PullAlways)
	if want := fmt.Sprintf("pull %s: cannot reach registry %s: connection refused", ref, reg.Host); err == nil || err.Error() != want || !errors.Is(err, ErrUnreachable) {
		t.Errorf("got %v, want %s", err, want)
	}

	// missing, offline, for a reference never pulled: an error.
	_, err = Pull(ctx, reg.Ref("other:1"), store, PullMissing)
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("got %v, want unreachable", err)
	}

	// The digest was pulled by tag only: its reference by digest was not.
	if _, err := Pull(ctx, reg.Ref("app@"+manifestDigest(t, v3img).String()), store, PullMissing); !errors.Is(err, ErrUnreachable) {
		t.Errorf("by digest, never pulled by digest: %v", err)
	}
}

func TestPullByDigestOffline(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	store := openStore(t)
	img := ociImage(t, "a")
	d := write(t, reg.Ref("app:1"), img, nil)
	ref := reg.Ref("app@" + d.String())
	if _, err := Pull(ctx, ref, store, PullMissing); err != nil {
		t.Fatal(err)
	}
	reg.Stop()
	c := newCounter()
	for _, policy := range []PullPolicy{PullMissing, PullAlways, PullNever} {
		res, err := Pull(ctx, ref, store, policy, WithTransport(c))
		if err != nil {
			t.Fatalf("%s: %v", policy, err)
		}
		checkPulled(t, store, res, img)
		if res.Warning != "" {
			t.Errorf("%s: warning %q", policy, res.Warning)
		}
	}
	if n := c.get("total"); n != 0 {
		t.Errorf("%d requests for a digest already pulled", n)
	}
}

// When the store lost a layer (cache prune), the offline fallback cannot
// be used.
func TestPullNeverLayerGone(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	store := openStore(t)
	write(t, reg.Ref("app:1"), ociImage(t, "a"), nil)
	res, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteBlob(res.Image.Layers[0].Digest); err != nil {
		t.Fatal(err)
	}
	_, err = Pull(ctx, reg.Ref("app:1"), store, PullNever)
	want := fmt.Sprintf(`pull %s: layer %s is no longer in the store, and the pull policy "never" does not allow the network`, reg.Ref("app:1"), res.Image.Layers[0].Digest)
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// missing fetches it again.
	if _, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing); err != nil {
		t.Fatal(err)
	}
	reg.Stop()
	if err := store.DeleteBlob(res.Image.Layers[0].Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing); !errors.Is(err, ErrUnreachable) {
		t.Errorf("offline with a layer gone: %v", err)
	}
}
