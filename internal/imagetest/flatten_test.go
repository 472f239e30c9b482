package imagetest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// bodies renames the content of each body to "<body>", so that expected
// listings stay readable.
func bodies(bs ...string) map[string]string {
	m := map[string]string{}
	for _, b := range bs {
		sum := sha256.Sum256([]byte(b))
		m[hex.EncodeToString(sum[:])] = "<" + b + ">"
	}
	return m
}

func flatten(t *testing.T, f fixture) *FS {
	t.Helper()
	fsys, err := Flatten(f.write(t))
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func checkListing(t *testing.T, fsys *FS, opts ListingOptions, want string) {
	t.Helper()
	want = strings.TrimLeft(want, "\n")
	if got := fsys.Listing(opts); got != want {
		t.Errorf("listing:\n%s\nwant:\n%s", got, want)
	}
}

func TestFlattenWhiteouts(t *testing.T) {
	fsys := flatten(t, fixture{layers: [][]entry{
		{
			dirE("a", 0o755), fileE("a/keep", 0o644, "keep"), fileE("a/gone", 0o644, "gone"),
			dirE("a/sub", 0o755), fileE("a/sub/x", 0o644, "x"),
			dirE("b", 0o755), fileE("b/old", 0o644, "old"), dirE("b/olddir", 0o755), fileE("b/olddir/y", 0o644, "y"),
			dirE("c", 0o755), fileE("c/f", 0o644, "f"),
			dirE("d", 0o755), fileE("d/lower", 0o644, "lower"),
			fileE("top", 0o600, "top"),
		},
		{
			// Whiteouts of a file and of a whole directory.
			whiteoutE("a", "gone"), whiteoutE("a", "sub"),
			// An opaque directory: lower contents go, this layer's stay.
			dirE("b", 0o700), opaqueE("b"), fileE("b/new", 0o644, "new"),
			// A directory replaced by a file takes its contents with it.
			fileE("c", 0o644, "c"),
			whiteoutE("", "top"),
			// A whiteout of something this layer adds does not hide it.
			fileE("e", 0o644, "e"), whiteoutE("", "e"),
		},
		{
			// The opaque marker may follow the additions of its layer.
			dirE("d", 0o755), fileE("d/upper", 0o644, "upper"), opaqueE("d"),
			// A path whited out below can come back, as another type.
			dirE("a/gone", 0o755), fileE("a/gone/inside", 0o644, "inside"),
		},
	}})
	checkListing(t, fsys, ListingOptions{Rename: bodies("keep", "new", "c", "e", "upper", "inside")}, `
/a dir 0755 0:0
/a/gone dir 0755 0:0
/a/gone/inside file 0644 0:0 sha256=<inside>
/a/keep file 0644 0:0 sha256=<keep>
/b dir 0700 0:0
/b/new file 0644 0:0 sha256=<new>
/c file 0644 0:0 sha256=<c>
/d dir 0755 0:0
/d/upper file 0644 0:0 sha256=<upper>
/e file 0644 0:0 sha256=<e>
`)
}

func TestFlattenHardLinks(t *testing.T) {
	fsys := flatten(t, fixture{layers: [][]entry{
		{
			dirE("l", 0o755), fileE("l/f", 0o640, "data"),
			linkE("l/h1", "l/f"), dirE("l/dir", 0o755), linkE("l/dir/h2", "./l/f"),
			symlinkE("l/s", "f"), linkE("l/s2", "l/s"),
		},
		{
			// Replacing one path of a group gives it a file of its own.
			fileE("l/h1", 0o644, "changed"),
			// A link to a file of a lower layer joins its group.
			linkE("l/h3", "l/f"),
		},
	}})
	checkListing(t, fsys, ListingOptions{Rename: bodies("changed")}, `
/l dir 0755 0:0
/l/dir dir 0755 0:0
/l/dir/h2 file 0640 0:0 size=4 sha256=3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7 nlink=3
/l/f file 0640 0:0 size=4 sha256=3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7 nlink=3 hardlink=/l/dir/h2
/l/h1 file 0644 0:0 sha256=<changed>
/l/h3 file 0640 0:0 size=4 sha256=3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7 nlink=3 hardlink=/l/dir/h2
/l/s symlink 0777 0:0 -> f nlink=2
/l/s2 symlink 0777 0:0 -> f nlink=2 hardlink=/l/s
`)

	// Whiting out the first path of a group makes the next one first.
	fsys = flatten(t, fixture{layers: [][]entry{
		{fileE("a", 0o644, "x"), linkE("b", "a"), linkE("c", "a")},
		{whiteoutE("", "a")},
	}})
	checkListing(t, fsys, ListingOptions{Rename: bodies("x")}, `
/b file 0644 0:0 sha256=<x> nlink=2
/c file 0644 0:0 sha256=<x> nlink=2 hardlink=/b
`)
}

func TestFlattenFileTypes(t *testing.T) {
	xattr := fileE("x", 0o644, "")
	xattr.hdr.PAXRecords = map[string]string{
		"SCHILY.xattr.user.k":              "v",
		"SCHILY.xattr.security.capability": "\x01\x00\x00\x02",
	}
	fsys := flatten(t, fixture{layers: [][]entry{{
		dirE(".", 0o755),
		owned(dirE("tmp", 0o1777), 0, 0),
		owned(fileE("suid", 0o4755, ""), 1000, 1001),
		fileE("sgid", 0o2711, ""),
		fileE("none", 0, ""),
		{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o600}},
		{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "null", Mode: 0o666, Devmajor: 1, Devminor: 3}},
		{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "sda", Mode: 0o660, Devmajor: 8}},
		symlinkE("dangling", "/nowhere"),
		fileE("sp ace", 0o644, ""), symlinkE("tab", "a\tb"), fileE(`q"uote`, 0o644, ""),
		fileE("é 日本 🎉", 0o644, ""), fileE("日本", 0o644, ""), fileE("bad\xff", 0o644, ""),
		xattr,
		// Implicit parents are made as tar extractors make them.
		fileE("implicit/child", 0o644, ""),
	}}})
	checkListing(t, fsys, ListingOptions{Rename: bodies(""), Ignore: []string{"/tmp", "sda/"}}, `
/ dir 0755 0:0
"/bad\xff" file 0644 0:0 sha256=<>
/dangling symlink 0777 0:0 -> /nowhere
/fifo fifo 0600 0:0
/implicit dir 0755 0:0
/implicit/child file 0644 0:0 sha256=<>
/none file 0000 0:0 sha256=<>
/null char 0666 0:0 dev=1,3
"/q\"uote" file 0644 0:0 sha256=<>
/sgid file 2711 0:0 sha256=<>
"/sp ace" file 0644 0:0 sha256=<>
/suid file 4755 1000:1001 sha256=<>
/tab symlink 0777 0:0 -> "a\tb"
/x file 0644 0:0 sha256=<> xattr.security.capability="\x01\x00\x00\x02" xattr.user.k="v"
"/é 日本 🎉" file 0644 0:0 sha256=<>
/日本 file 0644 0:0 sha256=<>
`)
	e, ok := fsys.Lookup("sda")
	if !ok || e.Type != TypeBlock || e.Devmajor != 8 || e.Mode != 0o660 {
		t.Errorf("Lookup(sda) = %+v, %v", e, ok)
	}
}

func TestFlattenFormats(t *testing.T) {
	layers := [][]entry{
		{dirE("d", 0o755), fileE("d/f", 0o644, "one")},
		{whiteoutE("d", "f"), fileE("d/g", 0o644, "two")},
	}
	want := `
/d dir 0755 0:0
/d/g file 0644 0:0 size=3 sha256=3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3
`
	for name, f := range map[string]fixture{
		"gzip":                 {mediaType: ocispec.MediaTypeImageLayerGzip},
		"zstd":                 {mediaType: ocispec.MediaTypeImageLayerZstd},
		"uncompressed":         {mediaType: ocispec.MediaTypeImageLayer},
		"nondistributable":     {mediaType: ocispec.MediaTypeImageLayerNonDistributableZstd}, //nolint:staticcheck // still found in the wild
		"docker gzip":          {mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
		"docker uncompressed":  {mediaType: "application/vnd.docker.image.rootfs.diff.tar"},
		"layout directory":     {asDir: true},
		"nested index":         {nested: true},
		"directory and nested": {asDir: true, nested: true, mediaType: ocispec.MediaTypeImageLayerZstd},
	} {
		t.Run(name, func(t *testing.T) {
			f.layers = layers
			checkListing(t, flatten(t, f), ListingOptions{}, want)
		})
	}
}

func TestFlattenErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		f    fixture
		want string
	}{
		"diff_id": {
			fixture{layers: [][]entry{{fileE("f", 0o644, "")}}, corruptDiffID: true},
			"config diff_id is",
		},
		"missing link target": {
			fixture{layers: [][]entry{{linkE("a", "b")}}},
			"hard link to missing /b",
		},
		"link to directory": {
			fixture{layers: [][]entry{{dirE("d", 0o755), linkE("a", "d")}}},
			"hard link to directory /d",
		},
		"parent not a directory": {
			fixture{layers: [][]entry{{fileE("f", 0o644, ""), fileE("f/g", 0o644, "")}}},
			"parent /f is a file",
		},
		"media type": {
			fixture{layers: [][]entry{{}}, declaredMediaType: "application/octet-stream"},
			`unsupported layer media type "application/octet-stream"`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Flatten(tc.f.write(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Flatten: %v, want error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Flatten(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("Flatten(empty dir): %v", err)
	}
}
