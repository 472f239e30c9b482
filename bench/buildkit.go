package main

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// buildkitModule is the module buildkitd and buildctl are built from.
const buildkitModule = "github.com/moby/buildkit"

// buildkitdArgs start a buildkitd as the reference one of
// build/testdata/compat/README.md runs (OCI worker, runc, overlayfs, host
// network), with its own root, socket and configuration.
func buildkitdArgs(root, addr, config string) []string {
	return []string{"--config", config, "--root", root, "--addr", addr,
		"--oci-worker=true", "--containerd-worker=false", "--oci-worker-snapshotter=overlayfs", "--oci-worker-net=host"}
}

// buildkitConfig is buildkitd.toml: the loopback registry over plain HTTP.
func buildkitConfig(registry string) string {
	return fmt.Sprintf("[registry.%q]\n  http = true\n", registry)
}

// buildctlBuildArgs build the Dockerfile of ctx into a gzip OCI archive
// at out, the image buildctl receives from the daemon and writes.
func buildctlBuildArgs(addr, ctx, out string) []string {
	return []string{"--addr", addr, "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context=" + ctx, "--local", "dockerfile=" + ctx, "--output", "type=oci,dest=" + out}
}

// buildkitTool starts a buildkitd of the bench's own, root and socket
// under the work dir (the machine's own buildkitd is left alone), and
// returns the tool that builds with it. A cold build follows a restart of
// that daemon on an empty root, the old one moved aside whole: not
// buildctl prune --all, which deletes its snapshots just before the build
// creates as many files again, and on ext4 without a journal, each new
// inode then scans the ones freed in the last 30 s (see bench/README.md).
func (b *bench) buildkitTool(bin, registry string) (tool, error) {
	buildctl := filepath.Join(bin, "buildctl")
	info, err := buildinfo.ReadFile(buildctl)
	if err != nil {
		return tool{}, fmt.Errorf("BuildKit (bench/run.sh builds it into %s): %w", bin, err)
	}
	dir := filepath.Join(b.work, "peers", "buildkit")
	config := filepath.Join(dir, "buildkitd.toml")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return tool{}, err
	}
	if err := os.WriteFile(config, []byte(buildkitConfig(registry)), 0o644); err != nil {
		return tool{}, err
	}
	d := &buildkitDaemon{bench: b, bin: bin, dir: dir, root: filepath.Join(dir, "root"), config: config,
		addr: "unix://" + filepath.Join(dir, "buildkitd.sock")}
	cleanups = append(cleanups, func() {
		d.stop()
		removeUnmounted(d.root)
	})
	if err := d.restart(); err != nil {
		return tool{}, err
	}
	return tool{
		name:    "buildkit",
		version: moduleVersion(info, buildkitModule),
		reset:   func(string) error { return d.restart() },
		build: func(workload, ctx string) (sample, error) {
			s, err := timed(exec.Command(buildctl, buildctlBuildArgs(d.addr, ctx, filepath.Join(dir, workload+".tar"))...))
			// buildctl's own peak RSS says nothing of the daemon's,
			// which does the work.
			s.maxRSS = 0
			return s, err
		},
	}, nil
}

// buildkitDaemon is the bench's buildkitd.
type buildkitDaemon struct {
	bench                        *bench
	bin, dir, root, config, addr string
	cmd                          *exec.Cmd
}

// restart stops the daemon, if it runs, and starts it again on an empty
// root.
func (d *buildkitDaemon) restart() error {
	d.stop()
	if mounted(d.root) {
		return fmt.Errorf("%s still has mounts after buildkitd stopped", d.root)
	}
	if err := d.bench.freshDir(d.root); err != nil {
		return err
	}
	cmd, err := startDaemon(filepath.Join(d.dir, "log"), filepath.Join(d.bin, "buildkitd"), buildkitdArgs(d.root, d.addr, d.config)...)
	if err != nil {
		return fmt.Errorf("buildkitd: %w", err)
	}
	d.cmd = cmd
	buildctl := filepath.Join(d.bin, "buildctl")
	if err := waitFor(func() error { return run(buildctl, "--addr", d.addr, "debug", "workers") }); err != nil {
		return fmt.Errorf("buildkitd did not start (see %s): %w", filepath.Join(d.dir, "log"), err)
	}
	return nil
}

// stop stops the daemon, if it runs.
func (d *buildkitDaemon) stop() {
	if d.cmd != nil {
		stopDaemon(d.cmd)
		d.cmd = nil
	}
}

// moduleVersion is the version of module path a binary was built from:
// BuildKit's commands built in a throwaway module name themselves
// v0.0.0+unknown, but their build info holds the real one.
func moduleVersion(info *buildinfo.BuildInfo, path string) string {
	if info.Main.Path == path && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return ""
}
