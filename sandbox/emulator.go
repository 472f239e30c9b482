package sandbox

import (
	"errors"
	"fmt"
	"runtime"
)

// ErrNoEmulator is wrapped by the error of CanRun for an architecture the
// machine runs neither natively nor through a registered emulator.
var ErrNoEmulator = errors.New("no emulator")

// EmulatorPackage is the Debian package whose emulators binfmt_misc
// runs foreign programs with (registered by binfmt-support).
const EmulatorPackage = "qemu-user-static"

// qemuNames are the names QEMU's user-mode emulators, and so their
// binfmt_misc entries (qemu-NAME), give Go's architectures.
var qemuNames = map[string]string{
	"amd64":    "x86_64",
	"386":      "i386",
	"arm64":    "aarch64",
	"arm":      "arm",
	"ppc64le":  "ppc64le",
	"ppc64":    "ppc64",
	"s390x":    "s390x",
	"riscv64":  "riscv64",
	"mips64le": "mips64el",
	"mips64":   "mips64",
	"mipsle":   "mipsel",
	"mips":     "mips",
	"loong64":  "loongarch64",
}

// Native reports whether the machine runs programs of arch (a GOARCH
// name) without an emulator: its own, and 386 on amd64.
func Native(arch string) bool {
	return arch == runtime.GOARCH || (runtime.GOARCH == "amd64" && arch == "386")
}

// QEMUName is the name of QEMU's user-mode emulator for arch (a GOARCH
// name), as in its binfmt_misc entry qemu-NAME; arch itself when QEMU
// has no other name for it.
func QEMUName(arch string) string {
	if n, ok := qemuNames[arch]; ok {
		return n
	}
	return arch
}

// noEmulator is the one-line error of a platform that cannot run here.
func noEmulator(platform, arch string) error {
	return fmt.Errorf("%w for %s: its RUN steps need qemu-%s registered in binfmt_misc (apt-get install %s binfmt-support)",
		ErrNoEmulator, platform, QEMUName(arch), EmulatorPackage)
}
