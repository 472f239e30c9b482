package isolation

import (
	"fmt"
	"os"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
)

// NewDriver is the root filesystem driver of mode (not Auto): keep is
// what a build in place leaves alone (KeepInPlace); warn takes what the
// driver has to say once per build. The rootless driver runs only in the
// builder EnterRootless started.
func NewDriver(mode Mode, store *cache.Store, keep []string, warn func(string)) (rootfs.Driver, error) {
	switch mode {
	case Namespaces:
		return rootfs.NewOverlay(store, rootfs.Warnings(warn)), nil
	case Rootless:
		if !InRootless() {
			return nil, fmt.Errorf("the rootless mode runs in a user namespace: isolation.EnterRootless first")
		}
		if err := probeOverlay(store); err != nil {
			return nil, fmt.Errorf("the rootless mode: overlayfs is refused in a user namespace here (it needs Linux 5.11 or later): %w", err)
		}
		return rootfs.NewOverlay(store, rootfs.Rootless(warn)), nil
	case InPlace:
		return rootfs.NewInPlace(store, "/", keep, rootfs.StageIn(os.TempDir()), rootfs.InPlaceWarnings(warn)), nil
	}
	return nil, fmt.Errorf("isolation mode %s: no driver", mode)
}

// probeOverlay mounts an overlayfs as steps will, in the store's scratch
// space.
func probeOverlay(store *cache.Store) error {
	dir, err := store.TempDir("probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return sandbox.ProbeOverlay(dir)
}
