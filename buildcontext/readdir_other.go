//go:build !linux

package buildcontext

import (
	"io/fs"
	"os"
)

// dirEntry is one entry of a directory, with its lstat data.
type dirEntry struct {
	name string
	info fs.FileInfo
}

// readDir lists dir in name order, each entry with its lstat data.
func readDir(dir string) ([]dirEntry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	entries := make([]dirEntry, len(des))
	for i, d := range des {
		fi, err := d.Info()
		if err != nil {
			return nil, err
		}
		entries[i] = dirEntry{name: d.Name(), info: fi}
	}
	return entries, nil
}
