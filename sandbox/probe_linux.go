package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
// them: new mount, UTS and IPC namespaces, and a tmpfs mounted in them.
// nil means they can; the error says what was refused. It takes no child
// process (a build as root pays microseconds for it): see onOwnThread.
func ProbeNamespaces(context.Context) error {
	dir, err := os.MkdirTemp("", "mybuild-probe-")
	if err != nil {
		return err
	}
	defer os.Remove(dir) // a mount point in the probe's namespace only
	return onOwnThread(unix.CLONE_NEWNS|unix.CLONE_NEWUTS|unix.CLONE_NEWIPC, probeMount, dir)
}

// ProbeOverlay tells whether overlayfs can be mounted as this process
// mounts it (with userxattr in a user namespace) on dirs made in dir,
// which must be empty: the rootless builder checks so in its user
// namespace, in its store.
func ProbeOverlay(dir string) error {
	return onOwnThread(unix.CLONE_NEWNS, probeOverlay, dir)
}

// onOwnThread runs the probe kind in namespaces that one thread of this
// process unshares (flags), and that end with it: the thread is never
// unlocked, so it exits with its goroutine. A child that thread started
// with Pdeathsig dies with it: probe before starting any, or start them
// from a thread that stays locked.
func onOwnThread(flags int, kind, dir string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		//	unshare --mount [--uts --ipc]
		if err := unix.Unshare(flags); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		errc <- probeIn(kind, dir)
	}()
	return <-errc
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

// probeIn makes the mount namespace private, then mounts a tmpfs on dir,
// or an overlayfs of dirs made in dir (on dir's own filesystem, as a
// step's layers are).
func probeIn(kind, dir string) error {
	// mount --make-rprivate /
	if err := mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if kind == probeOverlay {
		return mountOverlayIn(dir)
	}
	// mount -t tmpfs tmpfs $dir
	return mount("tmpfs", dir, "tmpfs", 0, "")
}

// mountOverlayIn mounts an overlayfs of empty dirs made in dir, with the
// options of a step's root.
//
//	mkdir l u w m; mount -t overlay overlay -o lowerdir=l,upperdir=u,workdir=w,... m
func mountOverlayIn(dir string) error {
	for _, d := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	opts, err := overlayOptions([]string{filepath.Join(dir, "l")}, filepath.Join(dir, "u"))
	if err != nil {
		return err
	}
	opts = strings.Replace(opts, "workdir="+workDir, "workdir="+filepath.Join(dir, "w"), 1)
	return mount("overlay", filepath.Join(dir, "m"), "overlay", 0, opts)
}
