package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/registry/registrytest"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// exportDockerfile makes a root filesystem with a bit of everything an
// export must get right: a file removed from a layer below (a whiteout),
// a hard link, an owner, setuid, a symlink.
const exportDockerfile = prelude + `RUN echo built > /out && mkdir -p /d/e && echo x > /d/e/f && ln /out /out.link && rm /bin/ls && chown 1000:2000 /d/e/f && chmod 4755 /out && ln -s /d/e/f /link
`

// fileEntry is what an export must keep of a path.
type fileEntry struct {
	typ       imagetest.EntryType
	mode      uint32
	uid, gid  int
	sha, link string
}

func (e fileEntry) String() string {
	return fmt.Sprintf("%s %o %d:%d %s%s", e.typ, e.mode, e.uid, e.gid, e.sha, e.link)
}

// imageEntries are the paths of the image in an OCI archive.
func imageEntries(t *testing.T, archive string) map[string]fileEntry {
	t.Helper()
	fsys, err := imagetest.Flatten(archive)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]fileEntry{}
	for _, p := range fsys.Paths() {
		if p == "/" {
			continue
		}
		e, _ := fsys.Lookup(p)
		out[p] = fileEntry{typ: e.Type, mode: e.Mode, uid: e.Uid, gid: e.Gid, sha: e.SHA256, link: e.Linkname}
	}
	return out
}

// dirEntries are the paths under dir, read from the disk.
func dirEntries(t *testing.T, dir string) map[string]fileEntry {
	t.Helper()
	out := map[string]fileEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := fileEntry{mode: st.Mode & 0o7777, uid: int(st.Uid), gid: int(st.Gid)}
		switch {
		case fi.IsDir():
			e.typ = imagetest.TypeDir
		case fi.Mode()&fs.ModeSymlink != 0:
			e.typ = imagetest.TypeSymlink
			e.link, err = os.Readlink(p)
		default:
			e.typ = imagetest.TypeFile
			var data []byte
			data, err = os.ReadFile(p)
			sum := sha256.Sum256(data)
			e.sha = hex.EncodeToString(sum[:])
		}
		out["/"+strings.TrimPrefix(p, dir+"/")] = e
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tarEntries are the paths of a tar; a hard link is the file it links to.
func tarEntries(t *testing.T, path string) map[string]fileEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]fileEntry{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		p := "/" + strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		e := fileEntry{mode: uint32(h.Mode & 0o7777), uid: h.Uid, gid: h.Gid}
		switch h.Typeflag {
		case tar.TypeDir:
			e.typ = imagetest.TypeDir
		case tar.TypeSymlink:
			e.typ, e.link = imagetest.TypeSymlink, h.Linkname
		case tar.TypeLink:
			e = out["/"+h.Linkname]
		case tar.TypeReg:
			data, _ := io.ReadAll(tr)
			sum := sha256.Sum256(data)
			e.typ, e.sha = imagetest.TypeFile, hex.EncodeToString(sum[:])
		default:
			t.Fatalf("%s: unexpected entry %s of type %c", path, h.Name, h.Typeflag)
		}
		out[p] = e
	}
}

func compareEntries(t *testing.T, what string, got, want map[string]fileEntry) {
	t.Helper()
	for p, w := range want {
		if g, ok := got[p]; !ok || g != w {
			t.Errorf("%s: %s is %v, want %v (as in the image)", what, p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: %s is not in the image", what, p)
		}
	}
}

// --output type=local and type=tar write the image's root filesystem:
// the same paths, types, modes, owners and contents as the image, hard
// links kept, removed files gone.
func TestOutputLocalAndTar(t *testing.T) {
	dir := project(t, exportDockerfile)
	out := t.TempDir()
	archive, local, bare, rootTar := filepath.Join(out, "app.tar"), filepath.Join(out, "local"), filepath.Join(out, "bare"), filepath.Join(out, "rootfs.tar")
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), "-t", archive, "--output", "type=local,dest="+local,
		"-o", bare, "--output", "type=tar,dest="+rootTar, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"wrote type=local,dest=" + local + "\n", "wrote type=local,dest=" + bare + "\n", "wrote type=tar,dest=" + rootTar + "\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if img := readOCIArchive(t, archive); img.manifestDigest != digestOf(stdout) {
		t.Errorf("archive manifest %s, printed %s", img.manifestDigest, stdout)
	}
	want := imageEntries(t, archive)
	if _, ok := want["/bin/ls"]; ok || want["/out"].mode != 0o4755 || want["/d/e/f"].uid != 1000 {
		t.Fatalf("the image is not what the test expects: %v", want)
	}
	compareEntries(t, "type=local", dirEntries(t, local), want)
	compareEntries(t, "-o DIR", dirEntries(t, bare), want)
	compareEntries(t, "type=tar", tarEntries(t, rootTar), want)
	a, _ := os.Stat(filepath.Join(local, "out"))
	b, _ := os.Stat(filepath.Join(local, "out.link"))
	if !os.SameFile(a, b) {
		t.Error("type=local: /out.link is not a hard link to /out")
	}
}

// --output type=oci and type=docker are spellings of -t oci-archive:,
// oci: and docker-archive:; a docker-archive takes -t's image name when
// it has none of its own.
func TestOutputImageTypes(t *testing.T) {
	dir := project(t, prelude)
	out := t.TempDir()
	ociTar, layout, dockerTar, named := filepath.Join(out, "oci.tar"), filepath.Join(out, "layout"), filepath.Join(out, "docker.tar"), filepath.Join(out, "named.tar")
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), "-t", "acme/app:1",
		"--output", "type=oci,dest="+ociTar+",name=v1", "--output", "type=oci,dest="+layout+",tar=false",
		"--output", "type=docker,dest="+dockerTar, "--output", "type=docker,dest="+named+",name=other:2", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	built := digestOf(stdout)
	for _, want := range []string{"wrote oci-archive:" + ociTar + ":v1\n", "wrote oci:" + layout + "\n", "wrote docker-archive:" + dockerTar + ":acme/app:1\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "WARNING") {
		t.Errorf("a warning, though the image was written:\n%s", stderr)
	}
	for path, img := range map[string]ociImage{ociTar: readOCIArchive(t, ociTar), layout: readOCILayout(t, layout)} {
		name := img.index.Manifests[0].Annotations[ocispec.AnnotationRefName]
		if img.manifestDigest != built || (path == ociTar && name != "v1") || (path == layout && name != "latest") {
			t.Errorf("%s: manifest %s named %q; want %s", path, img.manifestDigest, name, built)
		}
	}
	for path, want := range map[string]string{dockerTar: "acme/app:1", named: "other:2"} {
		var m []struct{ RepoTags []string }
		if err := json.Unmarshal(tarFiles(t, path)["manifest.json"], &m); err != nil || len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{want}) {
			t.Errorf("%s: manifest.json %+v (%v), want the tag %s", path, m, err, want)
		}
	}
}

// An --output's compression= and compression-level= are the build's
// layer compression, as BuildKit's image exporters take them, with
// oci-mediatypes=true and force-compression=false (what mybuild does);
// type=image,push=true and type=registry push to name=.
func TestOutputImageCompression(t *testing.T) {
	reg := registrytest.Start(t)
	dir := project(t, copyOnly)
	archive := filepath.Join(t.TempDir(), "app.tar")
	repo := reg.Ref("app")
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--insecure-registry", reg.Host,
		"-o", "type=oci,dest="+archive+",compression=zstd,compression-level=3,force-compression=false",
		"-o", "type=image,name="+repo+":1,push=true,compression=zstd,compression-level=3,oci-mediatypes=true",
		"-o", "type=registry,name="+repo+":2,compression=zstd,compression-level=3", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	img := readOCIArchive(t, archive)
	if img.manifestDigest != digestOf(stdout) || len(img.manifest.Layers) != 2 {
		t.Fatalf("archive: manifest %s with %d layers, printed %s", img.manifestDigest, len(img.manifest.Layers), stdout)
	}
	for _, l := range img.manifest.Layers {
		if l.MediaType != ocispec.MediaTypeImageLayerZstd {
			t.Errorf("layer %s: %s, want zstd", l.Digest, l.MediaType)
		}
	}
	for _, tag := range []string{"1", "2"} {
		raw, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+repo+":"+tag).Output()
		if err != nil || digest.FromBytes(raw) != img.manifestDigest {
			t.Errorf("%s:%s: %s (%v), want the manifest %s", repo, tag, raw, err, img.manifestDigest)
		}
	}
	// The same build with gzip: another manifest, gzip'd layers.
	gz := filepath.Join(t.TempDir(), "gz.tar")
	code, _, stderr = runCLI(t, "--cache-dir", t.TempDir(), "-o", "type=oci,dest="+gz+",compression=gzip", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if l := readOCIArchive(t, gz).manifest.Layers[0]; l.MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Errorf("compression=gzip: layer %s", l.MediaType)
	}
}
