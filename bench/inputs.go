package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// debianBase makes a Debian 12 minbase image with debootstrap and umoci,
// offline but for Debian's mirror, and returns its FROM reference.
func (b *bench) debianBase() (string, error) {
	layout := filepath.Join(b.work, "debian")
	ref := "oci:" + layout + ":bookworm"
	if _, err := os.Stat(filepath.Join(layout, "index.json")); err == nil {
		return ref, nil
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
	bundle := filepath.Join(b.work, "debian-bundle")
	os.RemoveAll(layout)
	os.RemoveAll(bundle)
	steps := [][]string{
		{"umoci", "init", "--layout", layout},
		{"umoci", "new", "--image", layout + ":bookworm"},
		{"umoci", "unpack", "--image", layout + ":bookworm", bundle},
		{"cp", "-a", rootfs + "/.", filepath.Join(bundle, "rootfs") + "/"},
		{"umoci", "repack", "--image", layout + ":bookworm", bundle},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			return "", err
		}
	}
	return ref, os.RemoveAll(bundle)
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
