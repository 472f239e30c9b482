package sandbox

import (
	"errors"
	"runtime"
	"testing"
)

// The host's own architecture, and 386 on amd64, need no emulator; an
// architecture binfmt_misc has no entry for is one line naming the
// platform and the package.
func TestCanRun(t *testing.T) {
	if err := CanRun("linux/"+runtime.GOARCH, runtime.GOARCH); err != nil {
		t.Errorf("the host's own: %v", err)
	}
	if runtime.GOARCH == "amd64" {
		if err := CanRun("linux/386", "386"); err != nil {
			t.Errorf("386 on amd64: %v", err)
		}
	}
	err := CanRun("linux/wasm", "wasm")
	want := "no emulator for linux/wasm: its RUN steps need qemu-wasm registered in binfmt_misc (apt-get install qemu-user-static binfmt-support)"
	if !errors.Is(err, ErrNoEmulator) || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if QEMUName("arm64") != "aarch64" || QEMUName("386") != "i386" {
		t.Errorf("QEMU names: %s %s", QEMUName("arm64"), QEMUName("386"))
	}
}
