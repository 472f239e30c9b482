package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/mybuild/mybuild/fswrite"
	"golang.org/x/sys/unix"
)

// setupMounts makes the step's own mounts, in order, under root. A target
// inside an earlier mount (a tmpfs on /tmp, then a bind on /tmp/x) is made
// there when missing.
//
// What an earlier mount holds is not the builder's: a cache mount may hold
// x -> /etc, and another build's step may be changing it right now. So a
// target is resolved inside root, opened level by level without following
// symlinks, and mounted on through its open handle, once, as runc does;
// read-only binds are made read-only beforehand, on a mount point of the
// builder's own under Scratch.
func setupMounts(cfg *childConfig, root string) error {
	secrets := ""
	for i, m := range cfg.Mounts {
		target, err := openTarget(root, m.Target, m.File)
		if err != nil {
			return fmt.Errorf("mount target %s: %w", m.Target, err)
		}
		dir := filepath.Join(cfg.Scratch, mountsDir, strconv.Itoa(i))
		var source string
		switch m.Kind {
		case MountBind:
			source = m.Source
			if m.ReadOnly {
				source, err = readOnlyBind(m.Source, dir, m.File)
			}
		case MountOverlay:
			source, err = overlayMount(dir, m, cfg.Linked)
		case MountFile:
			if secrets == "" {
				secrets, err = secretsDir(cfg.Scratch)
			}
			if err == nil {
				source, err = secretFile(filepath.Join(secrets, strconv.Itoa(i)), m)
			}
		}
		if err == nil {
			err = mountOn(target, m, source)
		}
		unix.Close(target)
		if err != nil {
			return fmt.Errorf("mount on %s: %w", m.Target, err)
		}
	}
	return nil
}

// mountOn mounts m on the open target: a tmpfs, or a bind of source.
//
//	mount -t tmpfs -o nosuid,nodev[,size=N] tmpfs $target
//	mount --rbind $source $target
func mountOn(target int, m Mount, source string) error {
	at := "/proc/self/fd/" + strconv.Itoa(target)
	if m.Kind == MountTmpfs {
		data := ""
		if m.Size > 0 {
			data = "size=" + strconv.FormatInt(m.Size, 10)
		}
		return mount("tmpfs", at, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data)
	}
	return mount(source, at, "", unix.MS_BIND|unix.MS_REC, "")
}

// openTarget resolves target inside root, makes what is missing of it (a
// directory, or an empty file), and returns an O_PATH descriptor of it.
// Every level is opened from the one above with O_NOFOLLOW: a level that
// became a symlink since it was resolved is an error, not a way out.
func openTarget(root, target string, file bool) (int, error) {
	resolved, err := securejoin.SecureJoin(root, target)
	if err != nil {
		return -1, err
	}
	rel, err := filepath.Rel(root, resolved)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: root, Err: err}
	}
	if rel == "." {
		return fd, nil
	}
	names := strings.Split(rel, "/")
	for i, name := range names {
		last := i == len(names)-1
		next, err := openOrMake(fd, name, last && file, !last)
		unix.Close(fd)
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: "/" + strings.Join(names[:i+1], "/"), Err: err}
		}
		fd = next
	}
	return fd, nil
}

// openOrMake opens name in dir with O_PATH, never through a symlink, and
// makes it first when it is missing: mkdir, or touch for a file.
func openOrMake(dir int, name string, file, mustBeDir bool) (int, error) {
	flags := unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if mustBeDir {
		flags |= unix.O_DIRECTORY
	}
	fd, err := unix.Openat(dir, name, flags, 0)
	if !errors.Is(err, unix.ENOENT) {
		return fd, checkNotSymlink(fd, err)
	}
	if file {
		var f int
		if f, err = unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644); err == nil {
			unix.Close(f)
		}
	} else {
		err = unix.Mkdirat(dir, name, 0o755)
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	fd, err = unix.Openat(dir, name, flags, 0)
	return fd, checkNotSymlink(fd, err)
}

// checkNotSymlink refuses what O_PATH|O_NOFOLLOW opened when it is a
// symlink: a mount on it would land where the symlink points.
func checkNotSymlink(fd int, err error) error {
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		unix.Close(fd)
		return unix.ELOOP
	}
	return nil
}

// readOnlyBind binds source on a mount point in dir and makes that mount
// read-only (and nosuid, nodev); a bind of it has the same flags. It
// returns the mount point.
//
//	mount --rbind $source $dir/ro; mount -o remount,bind,ro,nosuid,nodev $dir/ro
func readOnlyBind(source, dir string, file bool) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	stage := filepath.Join(dir, "ro")
	var err error
	if file {
		err = os.WriteFile(stage, nil, 0o600)
	} else {
		err = os.Mkdir(stage, 0o700)
	}
	if err != nil {
		return "", err
	}
	return stage, makeReadOnly(source, stage)
}

// makeReadOnly binds source on stage, read-only, nosuid and nodev.
func makeReadOnly(source, stage string) error {
	if err := mount(source, stage, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return mount("", stage, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

// overlayMount mounts the stack of a stage at dir/merged, with a
// throw-away upper dir, or else read-only, and returns its Source path,
// resolved inside it (m.Lower: absolute, see prepareMounts):
//
//	mount -t overlay -o lowerdir=L0:L1[,upperdir=$dir/upper,workdir=$dir/work] overlay $dir/merged
func overlayMount(dir string, m Mount, linked bool) (string, error) {
	o := overlayFS{dir: dir, target: filepath.Join(dir, mergedDir), lower: m.Lower, upper: filepath.Join(dir, "upper"), linked: linked}
	if m.ReadOnly {
		o.upper = ""
		if len(o.lower) == 1 {
			// Without an upper dir overlayfs wants two lower dirs; an empty
			// one adds nothing.
			o.lower = []string{o.lower[0], filepath.Join(dir, "empty")}
		}
	}
	if err := o.mount(); err != nil {
		return "", err
	}
	return securejoin.SecureJoin(o.target, m.Source)
}

// secretsDir mounts a private tmpfs outside the new root for the bytes of
// file mounts: they never reach a disk, and after pivot_root only their
// bind mounts are visible.
func secretsDir(scratch string) (string, error) {
	dir := filepath.Join(scratch, mountsDir, "files")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// mount -t tmpfs -o mode=0700,nosuid,nodev,noexec tmpfs $dir
	return dir, mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700")
}

// secretFile writes the file of a file mount at host and makes it a
// read-only mount of its own, ready to be bound.
func secretFile(host string, m Mount) (string, error) {
	meta := fswrite.Meta{Owner: fswrite.Owner{UID: uint32(m.UID), GID: uint32(m.GID)}, Mode: m.Mode.Perm()}
	if err := fswrite.WriteFile(host, bytes.NewReader(m.Data), meta); err != nil {
		return "", err
	}
	return host, makeReadOnly(host, host)
}
