package isolation

import (
	"fmt"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/rootfs"
)

// NewDriver is the root filesystem driver of mode (not Auto): keep is
// what a build in place leaves alone (KeepInPlace); warn takes what the
// driver has to say once per build. The rootless driver runs only in the
// builder EnterRootless started.
func NewDriver(mode Mode, store *cache.Store, keep []string, warn func(string)) (rootfs.Driver, error) {
	switch mode {
	case Namespaces:
		return rootfs.NewOverlay(store), nil
	case Rootless:
		if !InRootless() {
			return nil, fmt.Errorf("the rootless mode runs in a user namespace: isolation.EnterRootless first")
		}
		return rootfs.NewOverlay(store, rootfs.Rootless(warn)), nil
	case InPlace:
		return rootfs.NewInPlace(store, "/", keep), nil
	}
	return nil, fmt.Errorf("isolation mode %s: no driver", mode)
}
