package build

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/transport"
)

// testBuild builds dir/Dockerfile with the cache at cacheDir into a new
// OCI archive, and returns the archive and the result.
func testBuild(t *testing.T, dir, cacheDir string, opts ...func(*Options)) (string, *Result) {
	t.Helper()
	out, res, err := tryBuild(t, dir, cacheDir, opts...)
	if err != nil {
		t.Fatalf("build %s: %v", dir, err)
	}
	return out, res
}

func tryBuild(t *testing.T, dir, cacheDir string, opts ...func(*Options)) (string, *Result, error) {
	t.Helper()
	store, err := cache.Open(context.Background(), cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	out := filepath.Join(t.TempDir(), "image.tar")
	o := Options{
		Dockerfile: filepath.Join(dir, "Dockerfile"),
		Context:    dir,
		Outputs:    []transport.Ref{{Transport: transport.OCIArchive, Path: out}},
		Store:      store,
	}
	for _, f := range opts {
		f(&o)
	}
	res, err := Build(context.Background(), o)
	return out, res, err
}

// contextDir makes a build context from a map of file name to content; the
// Dockerfile is one of them.
func contextDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withBusybox adds Debian's static busybox to a context as "busybox".
func withBusybox(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(imagetest.Busybox(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// busyboxPrelude starts a Dockerfile with a shell.
const busyboxPrelude = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
`

func listing(t *testing.T, archive string) string {
	t.Helper()
	fsys, err := imagetest.Flatten(archive)
	if err != nil {
		t.Fatal(err)
	}
	return fsys.Listing(imagetest.ListingOptions{})
}

// lineOf returns the listing line of path p.
func lineOf(t *testing.T, archive, p string) string {
	t.Helper()
	for _, l := range strings.Split(listing(t, archive), "\n") {
		if strings.HasPrefix(l, p+" ") {
			return l
		}
	}
	return ""
}

func extractTar(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.Clean("/"+hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		out.Close()
		if err != nil {
			return err
		}
	}
}
