package sandbox

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// mountError records everything about a failed mount(2), as runc's does.
type mountError struct {
	op     string
	source string
	target string
	fstype string
	flags  uintptr
	data   string
	err    error
}

func (e *mountError) Error() string {
	s := e.op + " "
	if e.fstype != "" {
		s += e.fstype + " "
	}
	if e.source != "" {
		s += e.source + " "
	}
	s += "on " + e.target
	if e.flags != 0 {
		s += fmt.Sprintf(" (flags %#x)", e.flags)
	}
	if e.data != "" {
		s += fmt.Sprintf(" (data %.200s)", e.data)
	}
	return s + ": " + e.err.Error()
}

func (e *mountError) Unwrap() error { return e.err }

func mount(source, target, fstype string, flags uintptr, data string) error {
	for {
		err := unix.Mount(source, target, fstype, flags, data)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &mountError{op: "mount", source: source, target: target, fstype: fstype, flags: flags, data: data, err: err}
		}
		return nil
	}
}

func unmount(target string, flags int) error {
	for {
		err := unix.Unmount(target, flags)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &mountError{op: "umount", target: target, flags: uintptr(flags), err: err}
		}
		return nil
	}
}
