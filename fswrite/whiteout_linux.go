package fswrite

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mybuild/mybuild/overlay"
)

// Whiteouts makes dir, an empty directory, 0755 and a layer that hides
// paths (relative and clean) from the layers it goes on: an overlay
// whiteout at each, in directories made 0755 as needed.
func Whiteouts(dir string, paths []string) error {
	if err := Apply(dir, Meta{Mode: fs.ModeDir | 0o755}); err != nil {
		return err
	}
	for _, p := range paths {
		host := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			return err
		}
		//	mknod host c 0 0
		if err := overlay.MakeWhiteout(host); err != nil {
			return err
		}
	}
	return nil
}
