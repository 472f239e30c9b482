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
// returns the tool that builds with it. A cold build follows a
// buildctl prune --all, which leaves that daemon nothing cached.
func (b *bench) buildkitTool(bin, registry string) (tool, error) {
	buildctl := filepath.Join(bin, "buildctl")
	info, err := buildinfo.ReadFile(buildctl)
	if err != nil {
		return tool{}, fmt.Errorf("BuildKit (bench/run.sh builds it into %s): %w", bin, err)
	}
	dir := filepath.Join(b.work, "peers", "buildkit")
	root := filepath.Join(dir, "root")
	if err := b.freshDir(root); err != nil {
		return tool{}, err
	}
	config := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(config, []byte(buildkitConfig(registry)), 0o644); err != nil {
		return tool{}, err
	}
	addr := "unix://" + filepath.Join(dir, "buildkitd.sock")
	daemon, err := startDaemon(filepath.Join(dir, "log"), filepath.Join(bin, "buildkitd"), buildkitdArgs(root, addr, config)...)
	if err != nil {
		return tool{}, fmt.Errorf("buildkitd: %w", err)
	}
	cleanups = append(cleanups, func() {
		stopDaemon(daemon)
		removeUnmounted(root)
	})
	if err := waitFor(func() error { return run(buildctl, "--addr", addr, "debug", "workers") }); err != nil {
		return tool{}, fmt.Errorf("buildkitd did not start (see %s): %w", filepath.Join(dir, "log"), err)
	}
	return tool{
		name:    "buildkit",
		version: moduleVersion(info, buildkitModule),
		reset: func(string) error {
			return run(buildctl, "--addr", addr, "prune", "--all")
		},
		build: func(workload, ctx string) (sample, error) {
			s, err := timed(exec.Command(buildctl, buildctlBuildArgs(addr, ctx, filepath.Join(dir, workload+".tar"))...))
			// buildctl's own peak RSS says nothing of the daemon's,
			// which does the work.
			s.maxRSS = 0
			return s, err
		},
	}, nil
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
