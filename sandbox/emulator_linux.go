package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
)

// BinfmtDir is where the kernel lists binfmt_misc's entries.
const BinfmtDir = "/proc/sys/fs/binfmt_misc"

// CanRun tells whether the machine runs programs of arch (a GOARCH name)
// for platform (os/arch[/variant], for the error): natively, or through
// binfmt_misc's qemu-NAME entry, which must be enabled, as binfmt_misc
// itself. Debian's qemu-user-static registers its entries with the F
// flag: the kernel opens the emulator then, so that it runs in a step's
// own root, and the step's seccomp filter, which is the host's, applies
// to the emulator's own system calls. The error wraps ErrNoEmulator.
func CanRun(platform, arch string) error {
	if Native(arch) {
		return nil
	}
	if !enabled(filepath.Join(BinfmtDir, "status")) || !enabled(filepath.Join(BinfmtDir, "qemu-"+QEMUName(arch))) {
		return noEmulator(platform, arch)
	}
	return nil
}

// enabled reads a binfmt_misc file whose first line is "enabled" or
// "disabled".
func enabled(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	return string(first) == "enabled"
}
