package fswrite

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/mybuild/mybuild/overlay"
)

// CopyTree copies src of stack (resolved: a file, or a directory and all
// it holds) to dst, a host path that does not exist yet and whose parent
// does. Owners, modes, xattrs and times are kept, and hard links inside
// the tree stay links. It is how a mount's content is put in place where
// no mount can be made.
func CopyTree(ctx context.Context, stack *overlay.Stack, src, dst string) error {
	files, err := NewStage(stack).Walk(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	top := files[0]
	m, err := statMeta(top.Info)
	if err != nil {
		return err
	}
	m.Xattrs = top.Xattrs
	if !top.Info.IsDir() {
		if err := copyNode(top.Host, dst, m); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		return nil
	}
	if err := mknode(dst, m, ""); err != nil {
		return err
	}
	l := NewLayer(dst, overlay.NewStack())
	l.fresh["/"] = true
	for i := range files[1:] {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := &files[1+i]
		st := f.Info.Sys().(*syscall.Stat_t)
		if err := l.Copy(f, "/"+f.Rel, f.Info.Mode(), Owner{UID: st.Uid, GID: st.Gid}, true); err != nil {
			return fmt.Errorf("copy %s: %w", f.Host, err)
		}
	}
	if err := l.Finish(); err != nil {
		return err
	}
	return Apply(dst, m)
}

// CopyPath is CopyTree of the host path src, a file or a directory.
func CopyPath(ctx context.Context, src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return CopyTree(ctx, overlay.NewStack(src), "/", dst)
	}
	m, err := MetaOf(src, fi, func(string) bool { return true })
	if err != nil {
		return err
	}
	return copyNode(src, dst, m)
}
