package imagetest

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

// BusyboxPath is where Debian's busybox-static package installs busybox.
const BusyboxPath = "/bin/busybox"

// errNoBusybox is the message tests fail with when busybox is unusable.
const errNoBusybox = "busybox-static is not installed: apt-get install busybox-static"

// FindBusybox returns BusyboxPath after checking that it is a statically
// linked executable, which FROM scratch images can run.
func FindBusybox() (string, error) {
	f, err := elf.Open(BusyboxPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errors.New(errNoBusybox)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w (%s)", BusyboxPath, err, errNoBusybox)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%s is dynamically linked; %s", BusyboxPath, errNoBusybox)
		}
	}
	return BusyboxPath, nil
}

// Busybox returns the path of the static busybox binary, failing the test
// (never skipping it) when it is missing.
func Busybox(t testing.TB) string {
	t.Helper()
	p, err := FindBusybox()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
