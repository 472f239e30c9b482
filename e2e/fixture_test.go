package e2e

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/dockertest"
	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// imageName is what mybuild's image is loaded into the engine as.
const imageName = "mybuild:e2e"

// fixture is what the tests build on, made once by setup: mybuild's
// static binary, its image built by deploy/build-image.sh and loaded into
// a private Docker engine, and a registry on 127.0.0.1 holding the base
// images, built and pushed in the normal mode.
type fixture struct {
	dir    string // scratch
	bin    string // the static binary, for builds on this machine
	cache  string // the cache of builds on this machine
	engine *dockertest.Engine
	reg    *registrytest.Registry
	// bases are the references of the base images in reg, by name
	// ("busybox", "debian"), and baseLayers their layer counts.
	bases      map[string]string
	baseLayers map[string]int
	// hostFiles are /etc/hosts, /etc/resolv.conf and /etc/hostname of a
	// container that ran only mybuild --version: what every container
	// run has, untouched.
	hostFiles [3]string

	mu       sync.Mutex
	vmImages map[string]string // built by vmImage, by case
}

// setup makes the fixture; what it starts stops when the test ends.
func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), bases: map[string]string{}, baseLayers: map[string]int{}, vmImages: map[string]string{}}
	f.cache = filepath.Join(f.dir, "cache")
	start := time.Now()
	f.bin = buildBinary(t, filepath.Join(f.dir, "bin"))
	archive := filepath.Join(f.dir, "mybuild-image.tar")
	f.buildImage(t, archive)
	t.Logf("mybuild and its image built in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	f.engine = dockertest.Start(t)
	if names := f.engine.Load(t, archive); len(names) != 1 || names[0] != imageName {
		t.Fatalf("docker load loaded %q, want %s", names, imageName)
	}
	f.reg = registrytest.Start(t)
	t.Logf("engine and registry started, image loaded in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	f.pushBase(t, "busybox", map[string]string{"busybox": imagetest.Busybox(t)})
	rootfs := filepath.Join(f.dir, "rootfs.tar")
	imagetest.DebianTar(t, rootfs)
	f.pushBase(t, "debian", map[string]string{"rootfs.tar": rootfs})
	t.Logf("base images built and pushed in %v", time.Since(start).Round(time.Millisecond))

	f.mustRun(t, container{name: "reference"}, "--version")
	f.hostFiles = f.containerHostFiles(t, "reference")
	return f
}

// buildBinary builds mybuild statically into dir, as deploy/build-image.sh
// does, and returns its path.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "mybuild")
	cmd := exec.Command(tool(t, "go"), "build", "-trimpath", "-o", bin, "./cmd/mybuild")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// buildImage runs deploy/build-image.sh to write mybuild's image to
// archive as a docker-archive named imageName. The script builds with
// the binary it builds, on this machine: in the normal mode.
func (f *fixture) buildImage(t *testing.T, archive string) {
	t.Helper()
	args := []string{"docker-archive:" + archive + ":" + imageName, "--isolation=namespaces", "--cache-dir", f.cache, "--progress=quiet"}
	refuseInPlace(t, args)
	cmd := exec.Command("../deploy/build-image.sh", args...)
	// The script needs the go command this test was built with.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(tool(t, "go"))+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build-image.sh: %v\n%s", err, out)
	}
}

// pushBase builds testdata/base-NAME with files added to its context, in
// the normal mode, and pushes it to the registry as e2e/NAME:1.
func (f *fixture) pushBase(t *testing.T, name string, files map[string]string) {
	t.Helper()
	ctx := f.context(t, "base-"+name, files)
	ref := f.reg.Ref("e2e/" + name + ":1")
	archive := filepath.Join(f.dir, "base-"+name+".tar")
	f.vmBuild(t, ctx, "-t", "docker://"+ref, "-t", archive)
	f.bases[name], f.baseLayers[name] = ref, layerCount(t, archive)
}

// layerCount is the number of layers of the image in an OCI archive.
func layerCount(t *testing.T, archive string) int {
	t.Helper()
	layers, err := imagetest.LayerPaths(archive)
	if err != nil {
		t.Fatal(err)
	}
	return len(layers)
}

// context copies testdata/name into a fresh directory, adds files (name
// in the context: path on this machine), and returns the directory.
func (f *fixture) context(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	makeContext(t, dir, name, files)
	return dir
}

// makeContext copies testdata/name into dir, which must not exist, and
// adds files (name in the context: path on this machine).
func makeContext(t *testing.T, dir, name string, files map[string]string) {
	t.Helper()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatal(err)
	}
	for dst, src := range files {
		if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
			t.Fatal(err)
		}
	}
}

// copyFile copies src to dst, with its mode.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}

// vmImage is the image of the case built in the normal mode on this
// machine, once.
func (f *fixture) vmImage(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, ok := f.vmImages[name]; ok {
		return out
	}
	out := filepath.Join(f.dir, "vm-"+name+".tar")
	f.vmBuild(t, f.context(t, name, files), "-t", out, "--build-arg", "BASE="+f.bases[baseOf(name)])
	f.vmImages[name] = out
	return out
}

// baseOf is the base image a case builds on: its name's first word.
func baseOf(name string) string {
	base, _, _ := strings.Cut(name, "-")
	return base
}

// tool is the path of a command the tests need: missing, it fails the
// test, never skips it.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed (.ci/run installs what the tests need): %v", name, err)
	}
	return p
}
