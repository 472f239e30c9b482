package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/internal/userns"
	"golang.org/x/sys/unix"
)

// devices are the nodes of the minimal /dev, as runc creates them.
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3},
	{"zero", 1, 5},
	{"full", 1, 7},
	{"random", 1, 8},
	{"urandom", 1, 9},
	{"tty", 5, 0},
}

// makeDevice makes the character device p, as the host's /dev has it.
func makeDevice(p string, major, minor uint32) error {
	return makeNode(p, "/dev/"+filepath.Base(p), unix.S_IFCHR|0o666, unix.Mkdev(major, minor))
}

// makeNode makes the device node p of the type and permissions in mode:
// in a user namespace, where no node can be made, a bind of the host's
// node host (as rootless runc does).
func makeNode(p, host string, mode uint32, rdev uint64) error {
	if !userns.Inside() {
		// mknod -m $mode $p c|b $major $minor
		if err := unix.Mknod(p, mode, int(rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", p, err)
		}
		return nil
	}
	// touch $p; mount --bind $host $p
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err != nil {
		return err
	}
	f.Close()
	return mount(host, p, "", unix.MS_BIND, "")
}

// setupDev mounts a fresh tmpfs on dev and fills it, pipes included.
func setupDev(dev string, pipes []Pipe) error {
	// mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs $dev
	if err := mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	for _, d := range devices {
		if err := makeDevice(filepath.Join(dev, d.name), d.major, d.minor); err != nil {
			return err
		}
	}
	// mkdir $dev/pts; mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts $dev/pts
	pts := filepath.Join(dev, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return err
	}
	if err := mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	// mkdir $dev/shm; mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm $dev/shm
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return err
	}
	if err := mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	links := [][2]string{
		{"pts/ptmx", "ptmx"},
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	if len(pipes) == 0 {
		return nil
	}
	dir := filepath.Join(dev, "pipes")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for _, p := range pipes {
		if err := os.WriteFile(filepath.Join(dir, p.Name), p.Data, p.Mode.Perm()); err != nil {
			return fmt.Errorf("pipe %s: %w", p.Name, err)
		}
	}
	return nil
}

// hostDevices are the devices an insecure step gets from the host, when
// the host has them, as BuildKit's insecure mode adds them: the kernel
// log, fuse, cuse, kvm, tun, and loop control, plus every loop device.
var hostDevices = []string{"kmsg", "fuse", "cuse", "kvm", "net/tun", "loop-control"}

// addHostDevices makes in dev a node for each of the host's hostDevices
// and loop devices, with the host's numbers and mode.
func addHostDevices(dev string) error {
	loops, err := filepath.Glob("/dev/loop[0-9]*")
	if err != nil {
		return err
	}
	names := slices.Clone(hostDevices)
	for _, l := range loops {
		names = append(names, strings.TrimPrefix(l, "/dev/"))
	}
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Stat("/dev/"+name, &st); err != nil || (st.Mode&unix.S_IFMT != unix.S_IFCHR && st.Mode&unix.S_IFMT != unix.S_IFBLK) {
			continue
		}
		p := filepath.Join(dev, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := makeNode(p, "/dev/"+name, st.Mode, st.Rdev); err != nil {
			return err
		}
	}
	return nil
}
