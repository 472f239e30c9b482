package fswrite

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/mybuild/mybuild/overlay"
)

// Export copies the root filesystem that stack shows merged into the
// directory dest, made if missing, as buildx's --output type=local writes
// a build's result: each entry with its mode, owner, times and the
// xattrs a copy carries; hard links stay links. What dest already holds
// stays, unless the export replaces it: a file replaces a file, a
// directory merges with a directory, and a file where a directory is (or
// the other way round) is an error. dest's own metadata is left alone.
func Export(ctx context.Context, stack *overlay.Stack, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	files, err := NewStage(stack).Walk("/")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	l := NewLayer(dest, overlay.NewStack())
	for i := range files[1:] {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := &files[i+1]
		m, err := statMeta(f.Info)
		if err != nil {
			return fmt.Errorf("export /%s: %w", f.Rel, err)
		}
		perm := f.Info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if err := l.Copy(f, path.Join("/", f.Rel), perm, m.Owner, true); err != nil {
			return fmt.Errorf("export /%s: %w", f.Rel, err)
		}
	}
	if err := l.Finish(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
