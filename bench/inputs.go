package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// busyboxBase builds a busybox image FROM scratch with mybuild itself and
// returns its FROM reference.
func (b *bench) busyboxBase() (string, error) {
	out := filepath.Join(b.work, "busybox.tar")
	if _, err := os.Stat(out); err == nil {
		return "oci-archive:" + out, nil
	}
	ctx := filepath.Join(b.work, "busybox-context")
	if err := b.freshDir(ctx); err != nil {
		return "", err
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return "", fmt.Errorf("busybox-static is needed: %w", err)
	}
	if err := os.WriteFile(filepath.Join(ctx, "busybox"), data, 0o755); err != nil {
		return "", err
	}
	df := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		return "", err
	}
	if _, err := b.build("--cache-dir", filepath.Join(b.work, "base-cache"), "-t", out, ctx); err != nil {
		return "", err
	}
	return "oci-archive:" + out, nil
}

// debianTag names the Debian image in its layout.
const debianTag = "bookworm"

// debianBase makes a Debian 12 minbase image with debootstrap and umoci,
// offline but for Debian's mirror, and returns its FROM reference. The
// layout is built aside and renamed into place whole: umoci init writes
// index.json first, so a layout built in place and interrupted would look
// done.
func (b *bench) debianBase() (string, error) {
	layout := filepath.Join(b.work, "debian")
	ref := "oci:" + layout + ":" + debianTag
	if layoutHasRef(layout, debianTag) {
		return ref, readableLayout(layout)
	}
	rootfs := filepath.Join(b.work, "rootfs")
	if _, err := os.Stat(filepath.Join(rootfs, "etc/debian_version")); err != nil {
		mirror := os.Getenv("BENCH_DEBIAN_MIRROR")
		if mirror == "" {
			mirror = "http://deb.debian.org/debian"
		}
		fmt.Fprintln(os.Stderr, "debootstrap --variant=minbase bookworm (once)")
		tmp := rootfs + ".tmp"
		os.RemoveAll(tmp)
		if err := run("debootstrap", "--variant=minbase", "bookworm", tmp, mirror); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, rootfs); err != nil {
			return "", err
		}
	}
	tmp := layout + ".tmp"
	bundle := filepath.Join(b.work, "debian-bundle")
	for _, dir := range []string{tmp, bundle, layout} { // layout: one left unfinished by an older bench
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
	}
	image := tmp + ":" + debianTag
	steps := [][]string{
		{"umoci", "init", "--layout", tmp},
		{"umoci", "new", "--image", image},
		{"umoci", "unpack", "--image", image, bundle},
		{"cp", "-a", rootfs + "/.", filepath.Join(bundle, "rootfs") + "/"},
		{"umoci", "repack", "--image", image, bundle},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			return "", err
		}
	}
	if err := readableLayout(tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, layout); err != nil {
		return "", err
	}
	return ref, os.RemoveAll(bundle)
}

// readableLayout lets every user read the layout, which umoci writes
// 0600: the rootless mode builds from it as a normal user.
func readableLayout(layout string) error {
	return filepath.WalkDir(layout, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	})
}

// layoutHasRef reports whether the OCI layout in dir names an image ref.
func layoutHasRef(dir, ref string) bool {
	data, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if err != nil {
		return false
	}
	var index ocispec.Index
	if json.Unmarshal(data, &index) != nil {
		return false
	}
	for _, d := range index.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] == ref {
			return true
		}
	}
	return false
}

// goSource copies Go's own src tree, about 11,000 files, into dir.
func goSource(dir string) error {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	return run("cp", "-a", src, dir)
}

func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
