package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// mode is an isolation mode a workload is measured in: how mybuild is run
// for it, and where its caches and outputs go.
type mode struct {
	name string
	// build runs mybuild with args, the cache dir and output paths given
	// by dir.
	build func(args ...string) (sample, error)
	// dir is where this mode's caches and outputs go.
	dir string
	// prepare makes a path this mode's builds may write.
	prepare func(path string) error
}

// rootlessUser is the normal user the rootless mode is measured as; .ci/run
// and bench/run.sh make it, with a million subordinate ids.
const rootlessUser = "mybuild-rootless"

// newModes makes the modes named in list.
func (b *bench) newModes(list string) ([]mode, error) {
	var out []mode
	for _, name := range strings.Split(list, ",") {
		var m mode
		var err error
		switch name {
		case "namespaces":
			m = mode{name: name, build: func(args ...string) (sample, error) {
				return b.build(append([]string{"--isolation=namespaces"}, args...)...)
			}, dir: b.work, prepare: func(string) error { return nil }}
		case "rootless":
			m, err = b.rootlessMode()
		case "in-place":
			m, err = b.inPlaceMode(false)
		case "in-place-fresh":
			m, err = b.inPlaceMode(true)
		default:
			err = fmt.Errorf("unknown mode %q (want namespaces, rootless, in-place or in-place-fresh)", name)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// baselineMode runs another mybuild binary in the namespaces mode, its
// caches and outputs under the work dir's baseline/: the builds of
// -mybuild are compared with its, each build of one next to a build of
// the other.
func (b *bench) baselineMode(bin string) (mode, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return mode{}, err
	}
	if _, err := os.Stat(abs); err != nil {
		return mode{}, fmt.Errorf("-baseline: %w", err)
	}
	dir := filepath.Join(b.work, "baseline")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return mode{}, err
	}
	build := func(args ...string) (sample, error) {
		return timed(exec.Command(abs, append([]string{"-q", "--isolation=namespaces"}, args...)...))
	}
	return mode{name: "baseline", build: build, dir: dir, prepare: func(string) error { return nil }}, nil
}

// rootlessMode runs mybuild as rootlessUser, whose home is under the
// work dir.
func (b *bench) rootlessMode() (mode, error) {
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		return mode{}, fmt.Errorf("the rootless mode is measured as %s: %w (bench/run.sh makes it)", rootlessUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := filepath.Join(b.work, "rootless")
	own := func(p string) error {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	}
	if err := own(dir); err != nil {
		return mode{}, err
	}
	build := func(args ...string) (sample, error) {
		cmd := exec.Command(b.mybuild, append([]string{"-q"}, args...)...)
		cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "USER=" + rootlessUser}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		return timed(cmd)
	}
	return mode{name: "rootless", build: build, dir: dir, prepare: own}, nil
}
