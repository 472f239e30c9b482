package imagetest

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// BinfmtLock is the file that tests which need binfmt_misc's emulators
// lock shared, and the test that disables one locks exclusive: binfmt_misc
// is machine-wide, and tests of other packages and other checkouts run
// at the same time.
const BinfmtLock = "/tmp/mybuild-binfmt.lock"

// binfmtDir is where the kernel lists binfmt_misc's entries.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// Emulator holds BinfmtLock shared until the test ends, then checks that
// binfmt_misc's entry qemu-NAME (qemu-aarch64, say) is enabled, failing
// the test (never skipping it) when it is missing. An entry found
// disabled is enabled: holding the lock shared, no test has it disabled,
// so one that was killed before it could enable it again left it so.
// unlock releases the lock before the test ends.
func Emulator(t testing.TB, name string) (unlock func()) {
	t.Helper()
	unlock = lockBinfmt(t, unix.LOCK_SH)
	entry := filepath.Join(binfmtDir, "qemu-"+name)
	if state(entry) == "disabled" {
		t.Logf("%s was left disabled: enabling it", entry)
		if err := os.WriteFile(entry, []byte("1"), 0); err != nil {
			t.Fatalf("enable %s: %v", entry, err)
		}
	}
	if state(filepath.Join(binfmtDir, "status")) != "enabled" || state(entry) != "enabled" {
		t.Fatalf("binfmt_misc has no enabled qemu-%s: apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-%s", name, name)
	}
	return unlock
}

// DisableEmulator holds BinfmtLock exclusive, so that no test that needs
// an emulator runs meanwhile, and disables binfmt_misc's entry qemu-NAME.
// enable, called as soon as the test no longer needs it gone, and in any
// case when the test ends, enables it again and releases the lock. Keep
// the window short: the whole machine loses the emulator during it.
func DisableEmulator(t testing.TB, name string) (enable func()) {
	t.Helper()
	unlock := lockBinfmt(t, unix.LOCK_EX)
	entry := filepath.Join(binfmtDir, "qemu-"+name)
	if state(entry) == "" {
		t.Fatalf("binfmt_misc has no qemu-%s: apt-get install qemu-user-static binfmt-support", name)
	}
	var once sync.Once
	enable = func() {
		once.Do(func() {
			if err := os.WriteFile(entry, []byte("1"), 0); err != nil {
				t.Errorf("enable %s again: %v", entry, err)
			}
			unlock()
		})
	}
	t.Cleanup(enable)
	if err := os.WriteFile(entry, []byte("0"), 0); err != nil {
		t.Fatalf("disable %s: %v", entry, err)
	}
	return enable
}

// lockBinfmt takes BinfmtLock (how is unix.LOCK_SH or LOCK_EX) until
// unlock, or the end of the test.
func lockBinfmt(t testing.TB, how int) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(BinfmtLock, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		t.Fatalf("flock %s: %v", BinfmtLock, err)
	}
	var once sync.Once
	unlock = func() { once.Do(func() { f.Close() }) }
	t.Cleanup(unlock)
	return unlock
}

// state is the first line of a binfmt_misc file: "enabled" or
// "disabled"; "" when it cannot be read.
func state(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(string(data), "\n")
	return first
}
