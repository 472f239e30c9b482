package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// freshMemory drops the page cache, then reads every file under inputs
// back into it: a cold build starts with its inputs in memory, as a
// fresh checkout's are, and the rest of memory free, whichever tool ran
// before. On the VM the bench was made on, a build that writes into
// memory the page cache of earlier builds still holds spends twice the
// kernel time copying into new pages (bench/README.md).
func freshMemory(inputs ...string) error {
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
		return fmt.Errorf("drop the page cache: %w", err)
	}
	for _, dir := range inputs {
		if err := readAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// readAll reads every regular file under root, which may be a file.
func readAll(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(io.Discard, f)
		return err
	})
}
