package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// probeArg is argv[0] of the re-executed builder that tries what a mode
// needs, in the namespaces it would run in.
const probeArg = "mybuild-sandbox-probe"

// Probe kinds.
const (
	probeMount   = "mount"   // a private mount namespace, a tmpfs in it
	probeOverlay = "overlay" // the same, and an overlayfs with userxattr
)

// ProbeNamespaces tells whether steps can run as the namespaces mode runs
// them: a child in new mount, PID, UTS and IPC namespaces that mounts a
// tmpfs. nil means they can; the error says what was refused.
func ProbeNamespaces(ctx context.Context) error {
	flags := unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	return probe(ctx, &syscall.SysProcAttr{Cloneflags: uintptr(flags)}, probeMount)
}

// ProbeUserNamespace tells whether an unprivileged user can run steps as
// the rootless mode runs them: a child in a new user namespace (its own
// id mapped to 0) and mount namespace that mounts an overlayfs with the
// userxattr option (Linux 5.11).
func ProbeUserNamespace(ctx context.Context) error {
	attr := &syscall.SysProcAttr{
		Cloneflags:                 unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	return probe(ctx, attr, probeOverlay)
}

// probe runs the probe kind in a child made with attr, in a scratch dir
// of its own.
func probe(ctx context.Context, attr *syscall.SysProcAttr, kind string) error {
	dir, err := os.MkdirTemp("", "mybuild-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	attr.Pdeathsig = syscall.SIGKILL
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{probeArg, kind, dir}
	cmd.Env = []string{}
	cmd.SysProcAttr = attr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return errors.New(strings.TrimSpace(out.String()))
	case err != nil:
		// fork/exec: the clone itself was refused.
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return fmt.Errorf("clone: %w", errno)
		}
		return err
	}
	return nil
}

// runProbe is the child's side of probe; it exits.
func runProbe() {
	err := probeIn(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func probeIn(kind, dir string) error {
	// mount --make-rprivate /; mount -t tmpfs tmpfs $dir
	if err := mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if err := mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		return err
	}
	if kind != probeOverlay {
		return nil
	}
	for _, d := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	// mount -t overlay overlay -o lowerdir=l,upperdir=u,workdir=w,userxattr m
	return mount("overlay", filepath.Join(dir, "m"), "overlay", 0,
		"lowerdir="+filepath.Join(dir, "l")+",upperdir="+filepath.Join(dir, "u")+",workdir="+filepath.Join(dir, "w")+",userxattr")
}
