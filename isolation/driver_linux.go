package isolation

import (
	"fmt"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/rootfs"
)

// NewDriver is the root filesystem driver of mode (not Auto): keep is
// what a build in place leaves alone (KeepInPlace).
func NewDriver(mode Mode, store *cache.Store, keep []string) (rootfs.Driver, error) {
	switch mode {
	case Namespaces:
		return rootfs.NewOverlay(store), nil
	case InPlace:
		return rootfs.NewInPlace(store, "/", keep), nil
	}
	return nil, fmt.Errorf("isolation mode %s: no driver", mode)
}
