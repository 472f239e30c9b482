package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/users"
	"golang.org/x/sys/unix"
)

// Main runs the sandbox init when this process was started as one, and
// never returns then. Call it first thing in main (and in TestMain of
// packages whose tests start sandboxes); otherwise it returns at once.
func Main() {
	if len(os.Args) == 3 && os.Args[0] == probeArg {
		runProbe()
	}
	if len(os.Args) == 0 || os.Args[0] != initArg {
		return
	}
	// Credentials, the parent-death signal and exec must all happen on the
	// same OS thread.
	runtime.LockOSThread()
	status := os.NewFile(fdStatus, "status")
	err := initSandbox()
	// initSandbox only returns on failure: report it and give up.
	msg := statusMsg{Error: err.Error()}
	var ee *execError
	if errors.As(err, &ee) {
		msg.Exec = ee.kind
	}
	data, _ := json.Marshal(msg)
	_, _ = status.Write(data)
	os.Exit(127)
}

// initSandbox runs inside the new namespaces. It reads the step's
// configuration, builds the root and execs the command.
func initSandbox() error {
	var cfg childConfig
	cf := os.NewFile(fdConfig, "config")
	if err := json.NewDecoder(cf).Decode(&cfg); err != nil {
		return fmt.Errorf("sandbox init: read config: %w", err)
	}
	cf.Close()
	unix.Umask(0)
	if err := setupRoot(&cfg); err != nil {
		return err
	}
	unix.Umask(0o022)
	if err := unix.Sethostname([]byte(cfg.Host)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	if cfg.Network == NetworkNone {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := pivotRoot(filepath.Join(cfg.Scratch, mergedDir)); err != nil {
		return err
	}
	// From here on the init reads the image (/etc/passwd, the working dir,
	// the command), whose files an earlier step may have made device
	// nodes: only in the device cgroup may it open them.
	if err := waitForStart(); err != nil {
		return err
	}
	return execCommand(&cfg)
}

// setupRoot mounts the overlay and what the step expects to find in it.
func setupRoot(cfg *childConfig) error {
	// mount --make-rprivate /
	// Nothing mounted from here on may propagate back to the host.
	if err := mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	// mount -t overlay overlay -o lowerdir=$scratch/stubs:...,upperdir=$upper,workdir=$scratch/work $scratch/merged
	root := filepath.Join(cfg.Scratch, mergedDir)
	o := overlayFS{dir: cfg.Scratch, target: root, lower: cfg.Lower, upper: cfg.Upper, linked: cfg.Linked}
	if err := o.mount(); err != nil {
		return err
	}
	// mount -t proc -o nosuid,noexec,nodev proc $root/proc
	if err := mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, ""); err != nil {
		return err
	}
	if err := mountSys(filepath.Join(root, "sys"), cfg.Security); err != nil {
		return err
	}
	if err := setupDev(filepath.Join(root, "dev"), cfg.Pipes); err != nil {
		return err
	}
	if cfg.Security == SecurityInsecure {
		if err := addHostDevices(filepath.Join(root, "dev")); err != nil {
			return err
		}
	} else if err := maskPaths(root); err != nil {
		return err
	}
	for _, b := range cfg.Binds {
		if err := bindReadOnly(b.Source, filepath.Join(root, b.Target)); err != nil {
			return err
		}
	}
	return setupMounts(cfg, root)
}

// bindReadOnly is mount --bind -o ro source target.
func bindReadOnly(source, target string) error {
	if err := mount(source, target, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// pivotRoot makes root the new "/" and detaches the old one, as runc does:
//
//	cd $root; pivot_root . .; umount -l .
func pivotRoot(root string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /: %w", err)
	}
	defer unix.Close(oldRoot)
	if err := os.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", root, err)
	}
	// The old root is now stacked on the new one; detach it.
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("fchdir old root: %w", err)
	}
	if err := mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unmount(".", unix.MNT_DETACH); err != nil {
		return err
	}
	return os.Chdir("/")
}

// execCommand switches to the step's user and directory and execs it.
func execCommand(cfg *childConfig) error {
	user, err := users.LookupExec(cfg.User, readRegular)
	if err != nil {
		return err
	}
	if err := makeWorkdir(cfg.Dir, user); err != nil {
		return fmt.Errorf("working directory %s: %w", cfg.Dir, err)
	}
	if err := os.Chdir(cfg.Dir); err != nil {
		return fmt.Errorf("working directory %s: %w", cfg.Dir, err)
	}
	env := cfg.Env
	if _, ok := lookupEnv(env, "HOME"); !ok {
		env = append(env, "HOME="+user.Home)
	}
	argv0, err := lookPath(cfg.Args[0], env)
	if err != nil {
		return err
	}
	if cfg.TTY {
		if err := setupTerminal(user.UID); err != nil {
			return err
		}
	}
	if err := confine(cfg.Security, cfg.Seccomp, user); err != nil {
		return err
	}
	if err := stayWithParent(); err != nil {
		return err
	}
	// The status pipe closes on a successful exec: that is the parent's
	// signal. Whatever else the builder left open goes too.
	if err := closeExecFrom(3); err != nil {
		return err
	}
	err = unix.Exec(argv0, cfg.Args, env)
	return commandError(fmt.Errorf("exec %s: %w", cfg.Args[0], err))
}

// closeExecFrom marks every descriptor from minFd on close-on-exec, as
// runc's CloseExecFrom does on kernels without close_range: exec.Cmd
// hands the init every descriptor the builder opened without O_CLOEXEC,
// and the command must not get them.
func closeExecFrom(minFd int) error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("list descriptors: %w", err)
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < minFd {
			continue
		}
		// The directory's own descriptor is closed on return; one closed
		// since the listing fails with EBADF, which is as good.
		unix.CloseOnExec(fd)
	}
	return nil
}

// makeWorkdir creates the missing levels of dir, 0755 and owned by the
// step's user, as BuildKit's runc does when a step's working dir is gone.
// What exists already is left as it is, even when it is not a directory:
// the chdir then fails.
func makeWorkdir(dir string, u users.Exec) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := makeWorkdir(parent, u); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	// It keeps the mode mkdir gave it, a setgid bit inherited from its
	// parent included, as BuildKit's MkdirAllAndChown leaves it.
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	return fswrite.Apply(dir, fswrite.Meta{Owner: fswrite.Owner{UID: u.UID, GID: u.GID}, Mode: fi.Mode()})
}

// setCredentials switches the calling thread to u's groups and ids.
// The init is about to exec, which keeps the credentials of the thread
// that calls it and ends every other: raw syscalls change this thread's
// alone (main locked it), as they do the capability sets (see confine).
// syscall's Set* would signal each thread of the Go runtime to change
// its own too, three rounds that cost a step a fraction of a millisecond.
func setCredentials(u users.Exec) error {
	var groups unsafe.Pointer
	if len(u.Groups) > 0 {
		groups = unsafe.Pointer(&u.Groups[0])
	}
	if _, _, e := unix.RawSyscall(sysSetgroups, uintptr(len(u.Groups)), uintptr(groups), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(sysSetresgid, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(sysSetresuid, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	return nil
}

// readRegular reads name, which must be a regular file: /etc/passwd that
// an earlier step made a device node or a fifo is not opened for real.
func readRegular(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return io.ReadAll(f)
}

// waitForStart waits for the builder's go: the byte it writes on fdAlive
// once the init is in its device cgroup.
func waitForStart() error {
	var b [1]byte
	for {
		n, err := unix.Read(fdAlive, b[:])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("wait for the builder: %w", err)
		case n == 0:
			return errors.New("the builder exited")
		}
		return nil
	}
}

// stayWithParent re-arms the parent-death signal, which a change of
// credentials clears, and then makes sure the parent did not die before.
func stayWithParent() error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl: %w", err)
	}
	if err := unix.SetNonblock(fdAlive, true); err != nil {
		return err
	}
	var b [1]byte
	n, err := unix.Read(fdAlive, b[:])
	if n == 0 && err == nil {
		return errors.New("the builder exited")
	}
	unix.Close(fdAlive)
	return nil
}

// lookPath finds file in the PATH of env, inside the new root.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", commandError(fmt.Errorf("exec %s: %w", file, err))
		}
		return file, nil
	}
	pathEnv, _ := lookupEnv(env, "PATH")
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", &execError{kind: notFound, err: fmt.Errorf("exec: %q: executable file not found in $PATH", file)}
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return syscall.EACCES
	}
	return nil
}

// execError is a command that could not be started, and why: notFound
// or notExecutable.
type execError struct {
	kind string
	err  error
}

func (e *execError) Error() string { return e.err.Error() }
func (e *execError) Unwrap() error { return e.err }

// commandError tells, from the errno of a stat or an exec of the command,
// whether it is missing (a missing script interpreter counts: the shell
// says "not found" too) or not executable, as a shell's 127 and 126.
func commandError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR):
		return &execError{kind: notFound, err: err}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EPERM):
		return &execError{kind: notExecutable, err: err}
	}
	return err
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(env[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}
