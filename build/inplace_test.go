package build

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/rootfs"
	"golang.org/x/sys/unix"
)

// inPlaceRoot is a scratch tree for the in-place driver, never the
// machine's own root: a /dev with the nodes a shell needs, which the
// driver keeps, as it keeps a container's.
func inPlaceRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dev := filepath.Join(root, "dev")
	if err := os.Mkdir(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"urandom", 1, 9}} {
		if err := unix.Mknod(filepath.Join(dev, n.name), unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// inPlace builds with the in-place driver, on a scratch root of its own,
// as mybuild's image does: COPY stages its files in /mybuild/tmp, which
// is left alone, and they are moved into the tree.
func inPlace(t *testing.T) func(*Options) {
	root := inPlaceRoot(t)
	stage := filepath.Join(root, "mybuild/tmp")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	return func(o *Options) {
		o.Driver = rootfs.NewInPlace(o.Store, root, []string{"/dev", "/proc", "/sys", "/mybuild"}, rootfs.StageIn(stage))
	}
}

// The hostile-input tests that apply in place: base layers that try to
// write outside the build, context symlinks that point out of it. (A
// hostile RUN step is as contained as the container that holds it, and
// no more: see docs/in-place.md.)
func TestInPlaceHostileBaseLayer(t *testing.T) { testHostileBaseLayer(t, inPlace(t)) }

func TestInPlaceHostileContext(t *testing.T) { testHostileContext(t, inPlace(t)) }

// COPY --link in place: its layer lies on nothing, and the tree takes it
// when a RUN comes, as overlayfs stacks it.
func TestInPlaceCopyLink(t *testing.T) {
	t.Run("files", func(t *testing.T) { testCopyLinkFiles(t, inPlace(t)) })
	t.Run("new base", func(t *testing.T) { testCopyLinkReusedOnNewBase(t, inPlace(t)) })
}

// inPlaceDifferences are the compat cases whose build in place differs
// from BuildKit's on purpose, with the error it ends with. They are
// documented in docs/in-place.md.
var inPlaceDifferences = map[string]string{
	// A read-only bind is a copy in place, which root can write to: the
	// case's "! touch /ctx/x" fails.
	"mounts": `Dockerfile:12: [stage-1 4/8] RUN --mount=type=bind,source=files,target=/ctx cat /ctx/a.txt > /from-ctx && ...: process "/bin/sh -c cat /ctx/a.txt > /from-ctx && ls /ctx > /ctx-list && ! touch /ctx/x" did not complete successfully: exit code 1`,
}

// The in-place driver gives what BuildKit gives, as the overlay driver
// does, in every compatibility case (but inPlaceDifferences).
func TestInPlaceCompatWithBuildKit(t *testing.T) {
	cases, err := imagetest.CompatCases(compatDir)
	if err != nil || len(cases) == 0 {
		t.Fatalf("no compat cases: %v", err)
	}
	opts := imagetest.CompatOptions(t, compatDir)
	opts.Ignore = nil
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			dir := imagetest.Context(t, filepath.Join(compatDir, name))
			buildArgs, target, err := imagetest.CaseOptions(filepath.Join(compatDir, name))
			if err != nil {
				t.Fatal(err)
			}
			archive, _, err := tryBuild(t, dir, t.TempDir(), inPlace(t), func(o *Options) {
				o.BuildArgs, o.Target = buildArgs, target
			})
			if want, ok := inPlaceDifferences[name]; ok {
				if err == nil || err.Error() != want {
					t.Fatalf("err = %v\nwant the documented difference: %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertCompat(t, archive, name, opts)
		})
	}
}

// Every RUN --mount type is emulated in place: the image is the one the
// overlay driver's real mounts give.
func TestInPlaceMountsAsOverlay(t *testing.T) {
	dir := imagetest.Context(t, filepath.Join("testdata", "inplace-mounts"))
	agent := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", agent)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	opts := imagetest.CompatOptions(t, compatDir)
	opts.Ignore = nil
	var listings, configs []string
	for _, inPlace := range []bool{false, true} {
		archive, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) {
			o.Secrets = map[string][]byte{"tok": []byte("s3cret")}
			o.SSHAuthSock = agent
			if inPlace {
				o.Driver = rootfs.NewInPlace(o.Store, inPlaceRoot(t), []string{"/dev", "/proc", "/sys"})
			}
		})
		if err != nil {
			t.Fatalf("in place %v: %v", inPlace, err)
		}
		fsys, err := imagetest.Flatten(archive)
		if err != nil {
			t.Fatal(err)
		}
		listings = append(listings, fsys.Listing(opts))
		cfg, err := imagetest.ReadConfig(archive)
		if err != nil {
			t.Fatal(err)
		}
		c, err := imagetest.ComparableConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		configs = append(configs, string(c))
	}
	if listings[0] != listings[1] {
		t.Errorf("root filesystem in place differs from the overlay driver's:\n%s", imagetest.LineDiff(listings[0], listings[1]))
	}
	if configs[0] != configs[1] {
		t.Errorf("config in place differs from the overlay driver's:\n%s", imagetest.LineDiff(configs[0], configs[1]))
	}
	for _, want := range []string{"/second-log ", "/tok-seen ", "/ssh ", "/usr/local/beside "} {
		if !strings.Contains(listings[1], "\n"+want) {
			t.Errorf("in-place image lacks %s:\n%s", want, listings[1])
		}
	}
	for _, unwanted := range []string{"/ctx ", "/run ", "/scratch ", "/var/cache/app ", "/usr/local/deep ", "/etc/tok "} {
		if strings.Contains(listings[1], "\n"+unwanted) {
			t.Errorf("a mount reached the in-place image: %s", unwanted)
		}
	}
}

// RUN --network=none cannot be kept in place, where no network namespace
// can be made: the build fails before any step, in one line naming the
// step and the mode.
func TestInPlaceNetworkNone(t *testing.T) {
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY busybox /bin/busybox\nRUN --network=none [\"/bin/busybox\", \"true\"]\n"})
	if err := os.Link(imagetest.Busybox(t), filepath.Join(dir, "busybox")); err != nil {
		t.Fatal(err)
	}
	_, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) {
		o.Driver = rootfs.NewInPlace(o.Store, inPlaceRoot(t), []string{"/dev", "/proc", "/sys"})
	})
	want := `Dockerfile:3: [3/3] RUN --network=none ["/bin/busybox", "true"]: RUN --network=none is not supported in the in-place mode`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// COPY into a path the in-place mode leaves alone (here a mount point of
// the container) fails, naming it: the file would reach neither the
// tree nor the image.
func TestInPlaceCopyIntoKeptPath(t *testing.T) {
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY f /vol/f\n", "f": "x"})
	_, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) {
		o.Driver = rootfs.NewInPlace(o.Store, inPlaceRoot(t), []string{"/dev", "/proc", "/sys", "/vol"})
	})
	want := "Dockerfile:2: [2/2] COPY f /vol/f: write layer: /vol is left alone by the in-place mode (mybuild's own files, its cache, the context, an output, /proc, /sys, /dev or a mount point): nothing may be written there"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// An in-place build takes the tree before any step (rootfs.Holder), so
// never while it holds a step's lock: while another build has the tree,
// it waits with no step started, and a step another build waits for is
// never held by one that waits for the tree.
func TestInPlaceHoldsTheTreeBeforeAnyStep(t *testing.T) {
	root := inPlaceRoot(t)
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil { // another build's
		t.Fatal(err)
	}
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "RUN true\n"}))
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	store, err := cache.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, err = Build(ctx, Options{Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir, Store: store, Reporter: rec,
		Driver: rootfs.NewInPlace(store, root, []string{"/dev", "/proc", "/sys"})})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the wait for the tree to end with the context", err)
	}
	if started := rec.started(); len(started) != 0 {
		t.Errorf("steps started while another build had the tree: %v", started)
	}
}
