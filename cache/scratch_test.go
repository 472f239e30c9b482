package cache

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A build that died leaves its scratch dir; the next Open removes it, but
// never the scratch dir of a build that is still running.
func TestReclaimStaleScratch(t *testing.T) {
	root := t.TempDir()
	live := open(t, root)
	liveFile := filepath.Join(live.tmp, "in-use")
	os.WriteFile(liveFile, nil, 0o600)

	// A separate process opens the store and is killed.
	if os.Getenv("CACHE_TEST_CHILD") != "" {
		s, err := Open(context.Background(), os.Getenv("CACHE_TEST_CHILD"))
		if err != nil {
			os.Exit(1)
		}
		os.WriteFile(filepath.Join(s.tmp, "junk"), nil, 0o600)
		os.Stdout.WriteString("ready\n")
		time.Sleep(time.Hour)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReclaimStaleScratch$")
	cmd.Env = append(os.Environ(), "CACHE_TEST_CHILD="+root)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	io.ReadFull(out, buf)
	cmd.Process.Kill()
	cmd.Wait()
	if n := countDirs(t, filepath.Join(root, tmpDir)); n != 2 {
		t.Fatalf("want 2 scratch dirs before reclaim, got %d", n)
	}
	open(t, root)
	if n := countDirs(t, filepath.Join(root, tmpDir)); n != 2 { // live + the new one
		t.Fatalf("want 2 scratch dirs after reclaim, got %d", n)
	}
	if _, err := os.Stat(liveFile); err != nil {
		t.Fatal("a running build's scratch dir was reclaimed")
	}
}

// A lock file unlinked (or replaced) between its open and its flock, as a
// reclaiming build does to a free one, is not a lock: tryLock says so.
func TestTryLockUnlinkedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	f, err := openLockFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	if l, ok, err := tryLockFile(f, p); ok || err != nil {
		l.unlock()
		t.Fatalf("unlinked: ok = %v, err = %v; want not ok", ok, err)
	}

	f, err = openLockFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	os.WriteFile(p, nil, 0o600)
	if l, ok, err := tryLockFile(f, p); ok || err != nil {
		l.unlock()
		t.Fatalf("replaced: ok = %v, err = %v; want not ok", ok, err)
	}

	l, ok, err := tryLock(p)
	if !ok || err != nil {
		t.Fatalf("in place: ok = %v, err = %v", ok, err)
	}
	l.unlock()
}

// A scratch dir whose lock file is gone is not taken for a crashed
// build's: it may be a live one's (its lock file unlinked by a racing
// reclaim, before tryLock checked for that).
func TestReclaimKeepsDirWithoutLockFile(t *testing.T) {
	root := t.TempDir()
	live := open(t, root)
	liveFile := filepath.Join(live.tmp, "in-use")
	os.WriteFile(liveFile, nil, 0o600)
	os.Remove(live.tmp + ".lock")
	open(t, root)
	if _, err := os.Stat(liveFile); err != nil {
		t.Fatal("a scratch dir without its lock file was reclaimed")
	}
}

// Close unmounts what is left mounted in the scratch dir before removing
// it, as reclaim does.
func TestCloseUnmounts(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(s.tmp, "m")
	os.Mkdir(m, 0o700)
	if err := unix.Mount("tmpfs", m, "tmpfs", 0, ""); err != nil {
		s.Close()
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(m, unix.MNT_DETACH) })
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(s.tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("scratch dir left: %v", err)
	}
}

// A leftover scratch dir that cannot be removed stays for a later Open;
// it does not make every build fail.
func TestReclaimSkipsWhatItCannotRemove(t *testing.T) {
	root := t.TempDir()
	open(t, root).Close()
	dead := filepath.Join(root, tmpDir, "0123456789abcdef")
	os.Mkdir(dead, 0o700)
	os.WriteFile(dead+".lock", nil, 0o600)
	stuck := filepath.Join(dead, "stuck")
	os.WriteFile(stuck, nil, 0o600)
	if err := setImmutable(stuck, true); err != nil {
		t.Skipf("chattr +i: %v", err)
	}
	t.Cleanup(func() { setImmutable(stuck, false) })

	s := open(t, root)
	if _, err := os.Stat(dead + ".lock"); err != nil {
		t.Errorf("the lock file of a leftover not removed is gone: %v", err)
	}
	s.Close()
	setImmutable(stuck, false)
	open(t, root)
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover not reclaimed once it can be: %v", err)
	}
}
