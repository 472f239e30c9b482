package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tool is one builder measured on the phases of a workload: mybuild in
// one isolation mode, or a peer (BuildKit, Buildah).
type tool struct {
	// name is mybuild, buildkit or buildah.
	name string
	// mode is mybuild's isolation mode.
	mode string
	// version is a peer's, as the results name it ("v0.34.2").
	version string
	// reset empties what the tool has cached for a workload: a cold
	// build follows.
	reset func(workload string) error
	// build builds the context, its Dockerfile in it, into a gzip OCI
	// archive, and measures it.
	build func(workload, ctx string) (sample, error)
}

// label names the tool in errors.
func (t tool) label() string {
	if t.name == "mybuild" {
		return "mybuild " + t.mode
	}
	return t.name
}

// mybuildTool measures mybuild in mode m: its cache dir and archive are
// named for the workload under the mode's dir.
func (b *bench) mybuildTool(m mode) tool {
	cacheDir := func(workload string) string { return filepath.Join(m.dir, workload+"-cache") }
	return tool{
		name: "mybuild",
		mode: m.name,
		reset: func(workload string) error {
			if err := b.freshDir(cacheDir(workload)); err != nil {
				return err
			}
			return m.prepare(cacheDir(workload))
		},
		build: func(workload, ctx string) (sample, error) {
			args := mybuildArgs(b.registryHost(), cacheDir(workload), filepath.Join(m.dir, workload+".tar"), ctx)
			return m.build(args...)
		},
	}
}

// mybuildArgs are the arguments of one measured mybuild build (after
// the mode's own): the loopback registry, when the base comes from one,
// is reached over plain HTTP.
func mybuildArgs(registry, cacheDir, out, ctx string) []string {
	var args []string
	if registry != "" {
		args = append(args, "--insecure-registry", registry)
	}
	return append(args, "--cache-dir", cacheDir, "-t", out, ctx)
}

// phaseTools are the tools the phases of monorepo and steps measure, in
// the order they take turns within each run: mybuild's modes, then the
// peers.
func (b *bench) phaseTools() []tool {
	var ts []tool
	for _, m := range b.modes {
		ts = append(ts, b.mybuildTool(m))
	}
	return append(ts, b.peers...)
}

// timed runs cmds one after the other and measures them as one build:
// the wall time from the first start to the last exit, and the largest
// peak RSS among them.
func timed(cmds ...*exec.Cmd) (sample, error) {
	var s sample
	start := time.Now()
	for _, cmd := range cmds {
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return sample{}, fmt.Errorf("%s %s: %w\n%s", filepath.Base(cmd.Args[0]), strings.Join(cmd.Args[1:], " "), err, stderr.String())
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.maxRSS = max(s.maxRSS, ru.Maxrss*1024)
		}
	}
	s.wall = time.Since(start)
	return s, nil
}
