package container

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Terminal gives the command a terminal, as docker run -t does: a pty
// that the sandbox opens in the container's own /dev/pts is its stdin,
// stdout and stderr. Config.Stdin is typed into it, and what it shows is
// copied to Config.Stdout; Config.Stderr is not used (a terminal merges
// both). When Stdin ends, Ctrl-D is typed, which a command reading the
// terminal line by line sees as the end of its input.
type Terminal struct {
	// Host is the user's terminal, or nil. While the command runs, Host is
	// in raw mode, so that keys such as Ctrl-C reach the command's
	// terminal as they are, and the pty has Host's window size.
	Host *os.File
	// Resize says that Host's window size changed (SIGWINCH).
	Resize <-chan os.Signal
}

// drainTimeout bounds the wait for the last output once the sandbox is
// gone; reading the master fails as soon as it is drained.
const drainTimeout = 5 * time.Second

// session is one command's terminal, seen from the builder.
type session struct {
	t       *Terminal
	in      io.Reader
	out     io.Writer
	master  *os.File
	restore func()
	drained chan struct{}
	stop    chan struct{}
}

// attach is the sandbox's Console: it runs before the command starts.
// Until it succeeds, s stays as it was: close has nothing to wait for.
func (s *session) attach(master *os.File) error {
	if s.t.Host != nil {
		restore, err := makeRaw(s.t.Host)
		if err != nil {
			return fmt.Errorf("terminal: %w", err)
		}
		s.restore = restore
	}
	s.master = master
	s.drained, s.stop = make(chan struct{}), make(chan struct{})
	if s.t.Host != nil {
		s.resize()
	}
	go func() {
		out := s.out
		if out == nil {
			out = io.Discard
		}
		_, _ = io.Copy(out, master) // ends with EIO once no one has the pty open
		close(s.drained)
	}()
	if s.in != nil {
		go typeInput(master, s.in)
	}
	go func() {
		for {
			select {
			case <-s.stop:
				return
			case <-s.t.Resize:
				s.resize()
			}
		}
	}()
	return nil
}

// close waits for the command's last output, then gives the user's
// terminal back as it was.
func (s *session) close() {
	if s.master == nil {
		return // the sandbox failed before it made the terminal
	}
	select {
	case <-s.drained:
	case <-time.After(drainTimeout):
	}
	close(s.stop)
	s.master.Close()
	if s.restore != nil {
		s.restore()
	}
}

// resize gives the pty the window size of the user's terminal.
func (s *session) resize() {
	var ws *unix.Winsize
	err := control(s.t.Host, func(fd int) (err error) {
		ws, err = unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		return err
	})
	if err == nil {
		_ = control(s.master, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) })
	}
}

// typeInput copies in to the terminal, then types Ctrl-D: twice after a
// partial line, the first ending the line.
func typeInput(master *os.File, in io.Reader) {
	buf := make([]byte, 32<<10)
	last := byte('\n')
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := master.Write(buf[:n]); werr != nil {
				return
			}
			last = buf[n-1]
		}
		if err != nil {
			break
		}
	}
	eof := []byte{4}
	if last != '\n' {
		eof = []byte{4, 4}
	}
	_, _ = master.Write(eof)
}

// makeRaw puts a terminal in raw mode as cfmakeraw(3) does, and returns
// what restores it:
//
//	stty raw -echo
func makeRaw(f *os.File) (restore func(), err error) {
	var old *unix.Termios
	err = control(f, func(fd int) (err error) {
		if old, err = unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
			return err
		}
		raw := *old
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		return unix.IoctlSetTermios(fd, unix.TCSETS, &raw)
	})
	if err != nil {
		return nil, err
	}
	return func() {
		_ = control(f, func(fd int) error { return unix.IoctlSetTermios(fd, unix.TCSETS, old) })
	}, nil
}

// control runs fn on f's descriptor without making it blocking, as
// os.File.Fd would: a Close must still end a pending Read.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	return control(f, func(fd int) error {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	}) == nil
}
