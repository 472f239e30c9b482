package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildahStore is a private containers/storage of Buildah's, under the
// bench's work dir: nothing touches the machine's own images.
type buildahStore struct {
	root, runroot string
}

// args prefixes Buildah's arguments with the store's global flags.
func (s buildahStore) args(args ...string) []string {
	return append([]string{"--root", s.root, "--runroot", s.runroot, "--storage-driver", "overlay"}, args...)
}

// budArgs build the Dockerfile of ctx as bench-NAME, every step kept as
// a layer in the cache, the base pulled from the loopback registry over
// plain HTTP.
func (s buildahStore) budArgs(workload, ctx string) []string {
	return s.args("bud", "--layers", "--format", "oci", "--tls-verify=false",
		"-f", filepath.Join(ctx, "Dockerfile"), "-t", "bench-"+workload, ctx)
}

// pushArgs write bench-NAME as an OCI archive at out, its layers gzipped:
// the archive mybuild and BuildKit write.
func (s buildahStore) pushArgs(workload, out string) []string {
	return s.args("push", "bench-"+workload, "oci-archive:"+out)
}

// buildahTool returns the tool that builds with Debian's buildah: bud,
// then push to an OCI archive, timed together. A cold build starts from
// an empty store.
func (b *bench) buildahTool() (tool, error) {
	out, err := exec.Command("buildah", "--version").Output()
	if err != nil {
		return tool{}, fmt.Errorf("buildah --version (apt-get install buildah): %w", err)
	}
	dir := filepath.Join(b.work, "peers", "buildah")
	s := buildahStore{root: filepath.Join(dir, "root"), runroot: filepath.Join(dir, "run")}
	// Working containers a failed build left.
	cleanups = append(cleanups, func() { run("buildah", s.args("rm", "--all")...) })
	return tool{
		name:    "buildah",
		version: buildahVersion(string(out)),
		reset: func(string) error {
			if err := run("buildah", s.args("rm", "--all")...); err != nil {
				return err
			}
			for _, d := range []string{s.root, s.runroot} {
				if mounted(d) {
					return fmt.Errorf("%s still has mounts: not emptied", d)
				}
				if err := b.freshDir(d); err != nil {
					return err
				}
			}
			return nil
		},
		build: func(workload, ctx string) (sample, error) {
			return timed(exec.Command("buildah", s.budArgs(workload, ctx)...),
				exec.Command("buildah", s.pushArgs(workload, filepath.Join(dir, workload+".tar"))...))
		},
	}, nil
}

// buildahVersion reads "buildah version 1.28.2 (image-spec ...)".
func buildahVersion(out string) string {
	f := strings.Fields(out)
	if len(f) >= 3 && f[0] == "buildah" && f[1] == "version" {
		return f[2]
	}
	return ""
}
