package writeback

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback has the kernel start writing the range to disk. It is
// only a hint: an error changes nothing the fsync will not catch.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
