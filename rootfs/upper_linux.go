package rootfs

import (
	"errors"
	"io/fs"
	"os"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// NewUpper makes an empty dir, in the store's scratch space, for the
// changes of a process that runs on lower. An overlay shows its upper
// dir's root as "/", so the new dir takes the mode, owner, times and
// copied xattrs (xattr.Carried) of the image's root, as overlayfs' copy-up
// would (0755 root:root on an empty image): the process sees the image's
// "/" unchanged. The caller removes the dir.
func NewUpper(store *cache.Store, lower *overlay.Stack) (string, error) {
	dir, err := store.TempDir("upper-")
	if err != nil {
		return "", err
	}
	if err := setRootMeta(dir, lower); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// setRootMeta gives dir the metadata of lower's "/": its owner, mode,
// carried xattrs and times; 0755 and root's over no layer.
func setRootMeta(dir string, lower *overlay.Stack) error {
	m := fswrite.Meta{Mode: fs.ModeDir | 0o755}
	e, err := lower.Lstat("/")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = nil
	case err == nil:
		m, err = fswrite.MetaOf(e.HostPath, e.FileInfo, xattr.Carried)
	}
	if err != nil {
		return err
	}
	return fswrite.Apply(dir, m)
}
