package users

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"
)

// ReadFile reads a file of the image by absolute path, as os.ReadFile would
// inside the root. A missing file is reported with fs.ErrNotExist.
type ReadFile func(name string) ([]byte, error)

// open reads name through read into a reader for moby/sys/user; nil when
// the image has no such file, which that package takes as "no entries".
func open(read ReadFile, name string) (io.Reader, error) {
	data, err := read(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return bytes.NewReader(data), nil
}
