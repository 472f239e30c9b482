package sandbox

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A terminal is opened inside the sandbox, on the devpts instance of its
// own /dev/pts, so that the command sees /dev/pts/0 as docker's do, and
// the host's ptys stay out of reach. The master travels to the builder
// over the console socket, as runc's --console-socket does.

// setupTerminal runs in the init, after pivot_root and before the change
// of user. The init is already a session leader (Setsid):
//
//	exec 0<>/dev/pts/N 1>&0 2>&0   # N from opening /dev/ptmx
//	chown $uid /dev/pts/N          # the user may reopen it by name
//	ioctl TIOCSCTTY                # the controlling terminal
func setupTerminal(uid uint32) error {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	// unlockpt; ptsname
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer unix.Close(slave)
	if err := unix.Fchown(slave, int(uid), -1); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make %s the controlling terminal: %w", name, err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("dup %s: %w", name, err)
		}
	}
	return sendMaster(master)
}

// sendMaster passes master to the builder and waits for its go-ahead.
func sendMaster(master int) error {
	defer unix.Close(fdConsole)
	if err := unix.Sendmsg(fdConsole, []byte{0}, unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("send pty: %w", err)
	}
	var b [1]byte
	for {
		n, err := unix.Read(fdConsole, b[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n != 1 {
			return errors.New("the builder did not take the terminal")
		}
		return nil
	}
}

// consoleSocket is the builder's end of the console socket, and the end
// the init inherits.
func consoleSocket() (parent int, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("sandbox: console socket: %w", err)
	}
	return fds[0], os.NewFile(uintptr(fds[1]), "console"), nil
}

// takeConsole receives the pty master from the init, hands it to fn,
// and lets the init go on. It returns nil without calling fn when the
// init failed before making the terminal: its status says why.
func takeConsole(sock int, fn func(master *os.File) error) error {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("sandbox: receive pty: %w", err)
	}
	if n == 0 {
		return nil
	}
	fd, err := parseRights(oob[:oobn])
	if err != nil {
		return err
	}
	// Non-blocking, the file goes through Go's poller: Close then ends a
	// pending Read.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("sandbox: pty: %w", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := fn(master); err != nil {
		master.Close()
		return err
	}
	if _, err := unix.Write(sock, []byte{0}); err != nil {
		return fmt.Errorf("sandbox: start command: %w", err)
	}
	return nil
}

// parseRights takes the one file descriptor out of a control message.
func parseRights(oob []byte) (int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1, fmt.Errorf("sandbox: receive pty: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return -1, fmt.Errorf("sandbox: receive pty: %w", err)
		}
		fds = append(fds, got...)
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("sandbox: receive pty: got %d file descriptors, want 1", len(fds))
	}
	return fds[0], nil
}

// isTerminal reports whether f is a terminal. The sandbox never hands the
// command a terminal of the builder's as a plain descriptor: with it, the
// command could type into the user's shell (TIOCSTI) or change its modes.
func isTerminal(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var ioctlErr error
	// Control, not Fd: Fd would make the file blocking.
	if err := rc.Control(func(fd uintptr) {
		_, ioctlErr = unix.IoctlGetTermios(int(fd), unix.TCGETS)
	}); err != nil {
		return false
	}
	return ioctlErr == nil
}
