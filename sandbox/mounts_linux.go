package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// setupMounts makes the step's own mounts, in order, under root. A target
// inside an earlier mount (a tmpfs on /tmp, then a bind on /tmp/x) is made
// there when missing.
func setupMounts(cfg *childConfig, root string) error {
	secrets := ""
	for i, m := range cfg.Mounts {
		target := filepath.Join(root, m.Target)
		if err := ensureTarget(target, m.File); err != nil {
			return fmt.Errorf("mount target %s: %w", m.Target, err)
		}
		var err error
		switch m.Kind {
		case MountBind:
			err = bindMount(m.Source, target, m.ReadOnly)
		case MountTmpfs:
			data := ""
			if m.Size > 0 {
				data = "size=" + strconv.FormatInt(m.Size, 10)
			}
			// mount -t tmpfs -o nosuid,nodev,size=N tmpfs $target
			err = mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data)
		case MountOverlay:
			err = overlayMount(filepath.Join(cfg.Scratch, mountsDir, strconv.Itoa(i)), m, target)
		case MountFile:
			if secrets == "" {
				if secrets, err = secretsDir(cfg.Scratch); err != nil {
					return err
				}
			}
			err = fileMount(filepath.Join(secrets, strconv.Itoa(i)), m, target)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ensureTarget makes a missing mount target, which can only be inside an
// earlier mount: the stub layer has all the others.
func ensureTarget(target string, file bool) error {
	if _, err := os.Lstat(target); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if file {
		return os.WriteFile(target, nil, 0o644)
	}
	return os.Mkdir(target, 0o755)
}

// bindMount is mount --rbind [-o ro] source target.
func bindMount(source, target string, readOnly bool) error {
	if err := mount(source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if !readOnly {
		return nil
	}
	return mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

// overlayMount mounts the stack of a stage at dir/merged (with a
// throw-away upper dir unless read-only), then binds its Source path on
// target:
//
//	cd $dir; mount -t overlay -o lowerdir=l/0:l/1[,upperdir=upper,workdir=work] overlay merged
//	mount --bind merged/$source $target
func overlayMount(dir string, m Mount, target string) error {
	links, err := os.ReadDir(filepath.Join(dir, linksDir))
	if err != nil {
		return err
	}
	lower := make([]string, len(links))
	for i := range links {
		lower[i] = filepath.Join(linksDir, strconv.FormatInt(int64(i), 36))
	}
	opts := "lowerdir=" + strings.Join(lower, ":")
	if len(lower) == 1 && m.ReadOnly {
		// Without an upper dir overlayfs wants two lower dirs; an empty
		// one adds nothing.
		opts += ":empty"
	}
	if !m.ReadOnly {
		opts += ",upperdir=upper,workdir=" + workDir
	}
	opts += ",redirect_dir=off,metacopy=off,index=off"
	if err := os.Chdir(dir); err != nil {
		return err
	}
	if err := mount("overlay", mergedDir, "overlay", 0, opts); err != nil {
		return err
	}
	src := filepath.Join(dir, mergedDir, filepath.Clean("/"+m.Source))
	return bindMount(src, target, m.ReadOnly)
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

func fileMount(host string, m Mount, target string) error {
	mode := m.Mode.Perm()
	if mode == 0 && m.Mode == 0 {
		mode = 0o400
	}
	if err := os.WriteFile(host, m.Data, 0o600); err != nil {
		return err
	}
	if err := os.Lchown(host, m.UID, m.GID); err != nil {
		return err
	}
	if err := os.Chmod(host, mode); err != nil {
		return err
	}
	return bindMount(host, target, true)
}
