//go:build !linux

package buildcontext

import (
	"errors"
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
	entries := make([]dirEntry, 0, len(des))
	for _, d := range des {
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, err
		}
		entries = append(entries, dirEntry{name: d.Name(), info: fi})
	}
	return entries, nil
}
