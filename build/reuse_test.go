package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/rootfs"
)

// layerFile is where the file at p is in the unpacked layer of the
// step's result.
func layerFile(t *testing.T, cacheDir string, st StepResult, p string) string {
	t.Helper()
	if st.Layer == nil {
		t.Fatalf("step %q made no layer", st.Instruction)
	}
	return filepath.Join(cacheDir, "layers", "sha256", st.Layer.DiffID.Encoded(), p)
}

// inodeIn is the inode and mode of the file at p in the unpacked layer
// of the step's result.
func inodeIn(t *testing.T, cacheDir string, st StepResult, p string) (uint64, os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(layerFile(t, cacheDir, st, p))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino, fi.Mode()
}

// The same COPY after an edit links, from the layer it made last time,
// the files that are exactly as they were, and writes the others; its
// layer is the one a build from an empty cache makes (with a source date
// epoch: the /src it creates has the time of the build).
func TestCopyAfterEditLinksUnchangedFiles(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY src /src\n",
		"src/a.txt":  "same\n", "src/b.txt": "before\n", "src/sub/c.txt": "same mode?\n",
	})
	cacheDir := t.TempDir()
	epoch := withEpoch(reproEpoch)
	_, before := testBuild(t, dir, cacheDir, epoch)
	if err := os.WriteFile(filepath.Join(dir, "src/b.txt"), []byte("after\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "src/sub/c.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, after := testBuild(t, dir, cacheDir, epoch)
	if got := cachedSteps(after); got != "CR" {
		t.Fatalf("steps %s, want the COPY run again", got)
	}
	for _, c := range []struct {
		path   string
		linked bool
		mode   os.FileMode
	}{
		{"src/a.txt", true, 0o644},
		{"src/b.txt", false, 0o644},     // content changed
		{"src/sub/c.txt", false, 0o600}, // mode changed
	} {
		was, _ := inodeIn(t, cacheDir, before.Steps[1], c.path)
		is, mode := inodeIn(t, cacheDir, after.Steps[1], c.path)
		if (was == is) != c.linked {
			t.Errorf("%s: linked %v, want %v", c.path, was == is, c.linked)
		}
		if mode != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, mode, c.mode)
		}
	}
	_, cold := testBuild(t, dir, t.TempDir(), epoch)
	if got, want := after.Steps[1].Layer.Digest, cold.Steps[1].Layer.Digest; got != want {
		t.Errorf("layer after the edit %s, from an empty cache %s", got, want)
	}
}

// A file of the earlier layer that changed since it was sealed is not
// linked: the new layer gets the context's content.
func TestCopyAfterEditSkipsDamagedFiles(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY src /src\n",
		"src/a.txt":  "intact\n", "src/b.txt": "before\n",
	})
	cacheDir := t.TempDir()
	_, before := testBuild(t, dir, cacheDir)
	old := layerFile(t, cacheDir, before.Steps[1], "src/a.txt")
	if err := os.WriteFile(old, []byte("damage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src/b.txt"), []byte("after\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, after := testBuild(t, dir, cacheDir)
	was, _ := inodeIn(t, cacheDir, before.Steps[1], "src/a.txt")
	is, _ := inodeIn(t, cacheDir, after.Steps[1], "src/a.txt")
	if was == is {
		t.Error("a damaged file was linked into the new layer")
	}
	data, err := os.ReadFile(layerFile(t, cacheDir, after.Steps[1], "src/a.txt"))
	if err != nil || string(data) != "intact\n" {
		t.Errorf("new layer's a.txt: %q, %v", data, err)
	}
}

// A COPY that missed only because the step before it did makes the same
// layer as before: nothing is linked from it, so its inodes, and the
// stat data its seal vouches by, stay as they were. (The same layer
// needs a source date epoch: the /src the COPY creates has the time of
// the build, as in BuildKit, and a tar header keeps its second.)
func TestCopyAfterParentMissLinksNothing(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY first.txt /first.txt\nCOPY src /src\n",
		"first.txt":  "one\n", "src/a.txt": "same\n",
	})
	cacheDir := t.TempDir()
	epoch := withEpoch(reproEpoch)
	_, before := testBuild(t, dir, cacheDir, epoch)
	file := layerFile(t, cacheDir, before.Steps[2], "src/a.txt")
	var was syscall.Stat_t
	if err := syscall.Lstat(file, &was); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "first.txt"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, after := testBuild(t, dir, cacheDir, epoch)
	if got := cachedSteps(after); got != "CRR" {
		t.Fatalf("steps %s, want both COPYs run again", got)
	}
	if before.Steps[2].Layer.DiffID != after.Steps[2].Layer.DiffID {
		t.Fatal("the second COPY made another layer")
	}
	var is syscall.Stat_t
	if err := syscall.Lstat(file, &is); err != nil {
		t.Fatal(err)
	}
	if is.Ctim != was.Ctim || is.Nlink != 1 {
		t.Errorf("src/a.txt: ctime %v, %d links; was %v, 1 link", is.Ctim, is.Nlink, was.Ctim)
	}
}

// The base layers a build unpacks are flushed and sealed in the
// background, and the build waits for them: once it returns, every
// unpacked layer has its seal.
func TestBuildEndsWithEveryLayerSealed(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
	base, _ := testBuild(t, dir, t.TempDir())
	// A build that only unpacks its base, and has nothing else to do.
	onBase := contextDir(t, map[string]string{"Dockerfile": "FROM oci-archive:" + base + "\nENV X=1\n"})
	cacheDir := t.TempDir()
	var driver *settleCounter
	testBuild(t, onBase, cacheDir, func(o *Options) {
		driver = &settleCounter{Driver: rootfs.NewOverlay(o.Store)}
		o.Driver = driver
	})
	if driver.settled == 0 {
		t.Error("the build did not wait for its driver's background work")
	}
	entries, err := os.ReadDir(filepath.Join(cacheDir, "layers", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	layers := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		layers++
		if _, err := os.Stat(filepath.Join(cacheDir, "layers", "sha256", e.Name()+".seal")); err != nil {
			t.Errorf("layer %s: %v", e.Name(), err)
		}
	}
	if layers < 3 {
		t.Errorf("%d unpacked layers, want the base's", layers)
	}
}

// settleCounter is a driver that counts the calls of Settle, and the
// layers unpacked since the last one.
type settleCounter struct {
	rootfs.Driver
	mu              sync.Mutex
	settled, unsett int
}

func (d *settleCounter) Unpack(ctx context.Context, l layer.Layer, below []rootfs.Layer) (rootfs.Layer, error) {
	d.mu.Lock()
	d.unsett++
	d.mu.Unlock()
	return d.Driver.Unpack(ctx, l, below)
}

func (d *settleCounter) Settle() error {
	d.mu.Lock()
	d.settled, d.unsett = d.settled+1, 0
	d.mu.Unlock()
	return d.Driver.Settle()
}

// An export unpacks, after the steps, the layers a cached build never
// did: the build waits for their seals too.
func TestExportedLayersAreSettled(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": cacheDockerfile, "app.txt": "v1\n"}))
	cacheDir := t.TempDir()
	testBuild(t, dir, cacheDir)
	for _, name := range []string{"layers", "layers-userxattr"} {
		if err := os.RemoveAll(filepath.Join(cacheDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	var driver *settleCounter
	_, res := testBuild(t, dir, cacheDir, func(o *Options) {
		driver = &settleCounter{Driver: rootfs.NewOverlay(o.Store)}
		o.Driver = driver
		o.Exports = []Export{{Kind: ExportDir, Dest: filepath.Join(t.TempDir(), "root")}}
	})
	if got := cachedSteps(res); got != "CCCCCCC" {
		t.Fatalf("steps %s, want every one cached", got)
	}
	if driver.settled == 0 || driver.unsett != 0 {
		t.Errorf("settled %d times, %d layers unpacked after the last", driver.settled, driver.unsett)
	}
}

// A COPY's gzip layer keeps its member table, and the same COPY after an
// edit, which copies the unchanged members from that layer's blob, makes
// the blob a build from an empty cache makes, byte for byte (with a
// source date epoch: the 800 files take long enough to write that the
// builds fall in different seconds, the time a missing /src is made at).
func TestCopyAfterEditKeepsTheBlobOfAColdBuild(t *testing.T) {
	files := map[string]string{"Dockerfile": "FROM scratch\nCOPY src /src\n"}
	for i := range 800 {
		files[fmt.Sprintf("src/d%02d/f%03d.txt", i%16, i)] = strings.Repeat(fmt.Sprintf("line %d of a file\n", i), 100)
	}
	dir := contextDir(t, files)
	cacheDir := t.TempDir()
	epoch := withEpoch(reproEpoch)
	_, before := testBuild(t, dir, cacheDir, epoch)
	table, err := os.ReadFile(filepath.Join(cacheDir, "members", before.Steps[1].Layer.Digest.Encoded()))
	if err != nil {
		t.Fatalf("no member table for the COPY's layer: %v", err)
	}
	members, err := layerdiff.UnmarshalMembers(layer.Compression{}, table)
	if err != nil || len(members) < 5 {
		t.Fatalf("member table of %d members (%v) for 800 files", len(members), err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src/d07/f407.txt"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, after := testBuild(t, dir, cacheDir, epoch)
	if got := cachedSteps(after); got != "CR" {
		t.Fatalf("steps %s, want the COPY run again", got)
	}
	_, cold := testBuild(t, dir, t.TempDir(), epoch)
	if got, want := after.Steps[1].Layer.Digest, cold.Steps[1].Layer.Digest; got != want {
		t.Errorf("layer after the edit %s, from an empty cache %s", got, want)
	}
}
