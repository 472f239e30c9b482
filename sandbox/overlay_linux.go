package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mybuild/mybuild/overlay"
	"golang.org/x/sys/unix"
)

// overlayFS is one overlayfs mount the init makes: lower (newest
// first, absolute) under upper, or read-only when upper is "". dir holds
// its work dir (work/) and, on kernels without "lowerdir+", the short
// links to its lower dirs (l/).
type overlayFS struct {
	dir    string
	target string
	lower  []string
	upper  string
	// linked makes it through links and mount(2) even where the kernel
	// has "lowerdir+": the tests' way to reach that path.
	linked bool
}

// mount mounts o. With the mount API (fsopen, fsconfig), each lower dir
// is handed over on its own ("lowerdir+", Linux 6.8): no option string,
// so no page limit and no links to make and delete for each step. Older
// kernels get the option string of mount(2), kept under one page by short
// relative links, as before.
//
// An overlay with an upper dir is "volatile" (Linux 5.10): overlayfs
// then passes on no fsync, fdatasync or syncfs made through it, nor the
// syncfs of the upper dir's whole filesystem that its unmount does when
// the sandbox ends (a sync(2) still flushes every filesystem). The upper
// dir of a step's root is scratch until the step's layer is committed,
// which flushes it (cache.Store.PutStep); those of read-write binds and
// of mybuild run's containers are thrown away. The work dir, where a
// volatile mount leaves its mark, is never mounted again.
func (o overlayFS) mount() error {
	if !o.linked && kernelAtLeast(6, 8) {
		err := o.mountAPI()
		if !errors.Is(err, errNoLowerdirPlus) {
			return err
		}
	}
	return o.mountLinked()
}

// errNoLowerdirPlus: the kernel's overlayfs refused "lowerdir+" (a
// backport's release number can say 6.8 without it).
var errNoLowerdirPlus = errors.New(`overlayfs without "lowerdir+"`)

// mountAPI is, with the mount API:
//
//	mount -t overlay -o lowerdir+=L0,lowerdir+=L1,...,upperdir=U,workdir=W overlay TARGET
func (o overlayFS) mountAPI() error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		// ENOSYS: no mount API; EPERM: a seccomp profile that allows
		// mount(2) but not the new calls.
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			return errNoLowerdirPlus
		}
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	// The source mount(8) would give it, which df and mountinfo show.
	if err := unix.FsconfigSetString(fd, "source", "overlay"); err != nil {
		return fmt.Errorf("overlay source: %w", err)
	}
	for i, l := range o.lower {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			if i == 0 && errors.Is(err, unix.EINVAL) {
				return errNoLowerdirPlus
			}
			return fmt.Errorf("overlay lower dir %s: %w", l, err)
		}
	}
	var attrs int
	if o.upper == "" {
		attrs = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	} else {
		if err := unix.FsconfigSetString(fd, "upperdir", o.upper); err != nil {
			return fmt.Errorf("overlay upper dir %s: %w", o.upper, err)
		}
		work := filepath.Join(o.dir, workDir)
		if err := unix.FsconfigSetString(fd, "workdir", work); err != nil {
			return fmt.Errorf("overlay work dir %s: %w", work, err)
		}
		if err := unix.FsconfigSetFlag(fd, "volatile"); err != nil {
			return fmt.Errorf("overlay option volatile: %w", err)
		}
	}
	for _, kv := range overlayFeatures() {
		if err := unix.FsconfigSetString(fd, kv[0], kv[1]); err != nil {
			return fmt.Errorf("overlay option %s=%s: %w", kv[0], kv[1], err)
		}
	}
	if overlay.UserXattr() {
		if err := unix.FsconfigSetFlag(fd, "userxattr"); err != nil {
			return fmt.Errorf("overlay option userxattr: %w", err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("create overlay of %d layers: %w", len(o.lower), err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, o.target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move overlay mount to %s: %w", o.target, err)
	}
	return nil
}

// overlayFeatures are the overlay options mybuild sets besides the dirs:
// no redirects, no metacopy, no index, so that an upper dir holds whole
// files and plain whiteouts, which a layer tar can say. In a user
// namespace, layers mark opaque dirs user.overlay.*, and userxattr wants
// redirect_dir=nofollow ("off" follows).
func overlayFeatures() [][2]string {
	redirect := "off"
	if overlay.UserXattr() {
		redirect = "nofollow"
	}
	return [][2]string{{"redirect_dir", redirect}, {"metacopy", "off"}, {"index", "off"}}
}

// mountLinked is, from dir, with l/N links to the lower dirs:
//
//	cd $dir; mount -t overlay -o lowerdir=l/0:l/1[,upperdir=U,workdir=work] overlay TARGET
func (o overlayFS) mountLinked() error {
	links, err := linkLayers(o.dir, o.lower)
	if err != nil {
		return err
	}
	opts, err := overlayOptions(links, o.upper)
	if err != nil {
		return err
	}
	if err := os.Chdir(o.dir); err != nil {
		return err
	}
	var flags uintptr
	if o.upper == "" {
		flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV
	}
	return mount("overlay", o.target, "overlay", flags, opts)
}

// linkLayers makes dir/l/<n> (n in base 36) a symlink to each of layers,
// and returns the links, relative to dir.
func linkLayers(dir string, layers []string) ([]string, error) {
	if err := os.Mkdir(filepath.Join(dir, linksDir), 0o700); err != nil {
		return nil, err
	}
	links := make([]string, 0, len(layers))
	for i, layer := range layers {
		link := filepath.Join(linksDir, strconv.FormatInt(int64(i), 36))
		if err := os.Symlink(layer, filepath.Join(dir, link)); err != nil {
			return nil, err
		}
		links = append(links, link)
	}
	return links, nil
}

// overlayOptions is the mount(2) option string of an overlay of lower
// (newest first) with upper and the work dir beside it, or read-only when
// upper is "". mount(2) takes at most one page of it: the paths are
// relative, to the directory the mount is made from.
func overlayOptions(lower []string, upper string) (string, error) {
	opts := "lowerdir=" + strings.Join(lower, ":")
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + workDir
		if kernelAtLeast(5, 10) {
			opts += ",volatile"
		}
	}
	for _, kv := range overlayFeatures() {
		opts += "," + kv[0] + "=" + kv[1]
	}
	if overlay.UserXattr() {
		opts += ",userxattr"
	}
	if len(opts) >= os.Getpagesize() {
		return "", fmt.Errorf("overlay options for %d layers exceed one page", len(lower))
	}
	return opts, nil
}
