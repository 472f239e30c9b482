package build

import (
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/registry/registrytest"
	"github.com/mybuild/mybuild/transport"
)

// pushBase builds busybox with /base holding content, and pushes it to
// ref.
func pushBase(t *testing.T, ref, content string) {
	t.Helper()
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "RUN echo " + content + " > /base\n"}))
	testBuild(t, dir, t.TempDir(), func(o *Options) {
		o.Outputs = []transport.Ref{{Transport: transport.Docker, Path: ref}}
	})
}

// hasContent tells whether the image in archive has file p holding
// content and a newline.
func hasContent(t *testing.T, archive, p, content string) bool {
	t.Helper()
	return strings.Contains(lineOf(t, archive, p), digest.FromString(content+"\n").Encoded())
}

// A build goes on with the image its base's tag named last while the
// registry is asked; when the tag names another image now, the build
// runs again on that one, whether a RUN step (which waits for the
// registry's answer) or the image's writing finds it out.
func TestBaseTagMovedBuildsAgain(t *testing.T) {
	reg := registrytest.Start(t)
	base := reg.Ref("base:latest")
	for _, tc := range []struct{ name, dockerfile string }{
		{"run", "FROM " + base + "\nRUN cat /base > /seen\n"},
		{"cached", "FROM " + base + "\nENV CACHED=1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pushBase(t, base, "one")
			dir, cacheDir := contextDir(t, map[string]string{"Dockerfile": tc.dockerfile}), t.TempDir()
			out, _ := testBuild(t, dir, cacheDir)
			if !hasContent(t, out, "/base", "one") {
				t.Fatalf("first build: /base is %s, want one", lineOf(t, out, "/base"))
			}
			pushBase(t, base, "two")
			w := &warnings{}
			out, _ = testBuild(t, dir, cacheDir, func(o *Options) { o.Reporter = w })
			if !hasContent(t, out, "/base", "two") {
				t.Errorf("after the tag moved: /base is %s, want two", lineOf(t, out, "/base"))
			}
			if tc.name == "run" && !hasContent(t, out, "/seen", "two") {
				t.Errorf("after the tag moved: the RUN saw %s, want two", lineOf(t, out, "/seen"))
			}
			if len(w.msgs) != 1 || !strings.Contains(w.msgs[0], "Dockerfile:1: "+base+": the tag names another image now") ||
				!strings.HasSuffix(w.msgs[0], "; building again on it") {
				t.Errorf("warnings: %q, want one that the tag moved", w.msgs)
			}
			// Once the store holds what the tag names, nothing is built
			// twice.
			w = &warnings{}
			testBuild(t, dir, cacheDir, func(o *Options) { o.Reporter = w })
			if len(w.msgs) != 0 {
				t.Errorf("third build: warnings %q", w.msgs)
			}
		})
	}
}

// The registry's failure, found once a build went on with the image the
// tag named last, fails the build at its FROM, as it would have there:
// whether a RUN step that waits for the registry's answer or the
// image's writing finds it.
func TestBaseLoadedAheadFails(t *testing.T) {
	reg := registrytest.Start(t)
	base := reg.Ref("base:latest")
	pushBase(t, base, "one")
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM " + base + "\nARG N\nRUN echo $N > /n\n"})
	cacheDir := t.TempDir()
	arg := func(n string) func(*Options) {
		return func(o *Options) { o.BuildArgs = map[string]string{"N": n} }
	}
	testBuild(t, dir, cacheDir, arg("1"))
	reg.Stop()
	for _, n := range []string{"1", "2"} { // cached, then a RUN to run
		_, _, err := tryBuild(t, dir, cacheDir, arg(n), func(o *Options) { o.Pull = registry.PullAlways })
		if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:1: pull "+base+": ") {
			t.Errorf("N=%s: err = %v, want the pull's, at the FROM", n, err)
		}
	}
}

// The lint reads the config of a registry base from the store when it
// holds the image the tag named last: a warm build asks the registry
// the one HEAD of its pull, and nothing else, and still knows what the
// base's ENV defines.
func TestLintReadsTheRecordedBase(t *testing.T) {
	reg := registrytest.Start(t)
	base := reg.Ref("base:env")
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "ENV FROM_BASE=1\n"}))
	testBuild(t, dir, t.TempDir(), func(o *Options) {
		o.Outputs = []transport.Ref{{Transport: transport.Docker, Path: base}}
	})
	app, cacheDir := contextDir(t, map[string]string{"Dockerfile": "FROM " + base + "\nENV X=$FROM_BASE Y=$NOWHERE\n"}), t.TempDir()
	testBuild(t, app, cacheDir)
	rt := &registrytest.Recorder{}
	w := &warnings{}
	testBuild(t, app, cacheDir, func(o *Options) {
		o.Reporter = w
		o.Registry = append(o.Registry, registry.WithTransport(rt))
	})
	if want := []string{"HEAD /v2/base/manifests/env"}; !slices.Equal(rt.Requests(), want) {
		t.Errorf("requests %q, want %q", rt.Requests(), want)
	}
	if len(w.msgs) != 1 || !strings.Contains(w.msgs[0], "UndefinedVar: Usage of undefined variable '$NOWHERE'") {
		t.Errorf("warnings %q, want one, of $NOWHERE alone", w.msgs)
	}
}
