package sandbox

import (
	"io"
	"os"
)

// stdinFile is what the process gets as stdin: nil (/dev/null), r itself
// when it is a file other than a terminal, else the read end of a pipe
// that a goroutine copies r into. That copy may block in r.Read after the
// process is gone: closing the write end makes it stop at its next write,
// and Run does not wait for it (exec.Cmd would, until WaitDelay, and then
// fail the command).
func stdinFile(r io.Reader) (f *os.File, closeFn func(), err error) {
	switch r := r.(type) {
	case nil:
		return nil, func() {}, nil
	case *os.File:
		if !isTerminal(r) {
			return r, func() {}, nil
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	go func() {
		// An error here is the process closing its stdin: it wants no more.
		_, _ = io.Copy(pw, r)
		pw.Close()
	}()
	return pr, func() { pw.Close() }, nil
}

// sameWriter tells whether a and b are one writer, as exec.Cmd asks
// before it gives stdout and stderr one pipe: writers of a type that
// cannot be compared are not.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// stdoutWriter is what exec.Cmd gets for stdout or stderr: w, unless it
// is a terminal, which it then only sees through a pipe and a copy that
// exec.Cmd makes.
func stdoutWriter(w io.Writer) io.Writer {
	switch f := w.(type) {
	case nil:
		return io.Discard
	case *os.File:
		if isTerminal(f) {
			return struct{ io.Writer }{f}
		}
	}
	return w
}

// forwardSignals sends each signal from sigs to p until the returned stop
// is called. With run false, or no sigs, nothing is forwarded: the command
// never started, and the init must not get signals meant for the command.
func forwardSignals(p *os.Process, sigs <-chan os.Signal, run bool) (stop func()) {
	if sigs == nil || !run {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				// After the exit, os.Process refuses (ErrProcessDone); before
				// Wait, a signal to a zombie is lost, as it should be.
				_ = p.Signal(sig)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
