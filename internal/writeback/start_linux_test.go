package writeback

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Start sends to disk what was written through the Writer, though it is
// far less than every: the file's pages go from dirty to clean at once,
// where the kernel's own writeback would leave them dirty for seconds.
func TestStartWritesBackWhatWasWritten(t *testing.T) {
	f, err := os.CreateTemp(diskDir(t), "start")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); os.Remove(f.Name()) })
	w := New(f)
	if _, err := w.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if st := pageState(t, f); st.Dirty == 0 {
		t.Fatalf("no dirty page right after the write: %+v", st)
	}
	w.Start()
	if w.start != w.off || w.off != 1<<20 {
		t.Errorf("writeback started up to %d, %d bytes written", w.start, w.off)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := pageState(t, f); st.Dirty > 0; st = pageState(t, f) {
		if time.Now().After(deadline) {
			t.Fatalf("still %d dirty pages 5 s after Start", st.Dirty)
		}
		time.Sleep(time.Millisecond)
	}
}

// pageState is cachestat(2) of the whole of f.
func pageState(t *testing.T, f *os.File) unix.Cachestat_t {
	t.Helper()
	var st unix.Cachestat_t
	err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0)
	if errors.Is(err, unix.ENOSYS) {
		t.Skip("cachestat(2) needs Linux 6.5")
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// diskDir is a temp dir on a filesystem with writeback: not a tmpfs,
// which /tmp may be.
func diskDir(t *testing.T) string {
	for _, dir := range []string{t.TempDir(), "/var/tmp"} {
		var fs unix.Statfs_t
		if err := unix.Statfs(dir, &fs); err == nil && fs.Type != unix.TMPFS_MAGIC {
			return dir
		}
	}
	t.Skip("no filesystem with writeback")
	return ""
}
