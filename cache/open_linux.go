package cache

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// openFile is os.OpenFile without the runtime's poller: a regular file
// never blocks in it, and os.OpenFile spends five system calls on every
// open to find that out (fcntl twice, an epoll_ctl that the kernel
// refuses, fcntl twice more). A build opens a lock, a seal and a record
// for each of its layers and steps.
func openFile(path string, flag int, perm uint32) (*os.File, error) {
	for {
		fd, err := unix.Open(path, flag|unix.O_CLOEXEC, perm)
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if !errors.Is(err, unix.EINTR) {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// readFile is os.ReadFile through openFile.
func readFile(path string) ([]byte, error) {
	data, _, err := readFileStat(path)
	return data, err
}

// readFileStat is readFile, with the stat of the file it read.
func readFileStat(path string) ([]byte, os.FileInfo, error) {
	f, err := openFile(path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, err
	}
	return data, fi, nil
}
