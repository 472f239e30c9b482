package sandbox

import (
	"github.com/mybuild/mybuild/internal/userns"
	"golang.org/x/sys/unix"
)

// mountSys mounts /sys in the root at sys: a fresh sysfs, read-only
// unless the step is insecure (as docker run --privileged). In a user
// namespace, where a fresh sysfs is refused while the step shares the
// host's network namespace, it is the host's /sys bound recursively,
// read-only all the way down, as rootless runc does.
func mountSys(sys string, sec Security) error {
	if userns.Inside() {
		// mount --rbind /sys $sys; mount -o remount,bind,ro (recursively)
		if err := mount("/sys", sys, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODEV}
		if err := unix.MountSetattr(unix.AT_FDCWD, sys, unix.AT_RECURSIVE, attr); err != nil {
			return &mountError{op: "mount_setattr", target: sys, err: err}
		}
		return nil
	}
	// mount -t sysfs -o ro,nosuid,noexec,nodev sysfs $sys
	flags := uintptr(unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV)
	if sec == SecuritySandbox {
		flags |= unix.MS_RDONLY
	}
	return mount("sysfs", sys, "sysfs", flags, "")
}
