package isolation

import (
	"errors"
	"fmt"
)

// Decision is a mode and why it was chosen.
type Decision struct {
	Mode   Mode
	Reason string
}

// ErrNoMarker is the error of forcing the in-place mode where the marker
// is missing.
var ErrNoMarker = errors.New("in-place marker missing")

// Choose is the mode auto picks from the facts:
//   - root, where namespaces and mounts are allowed: namespaces;
//   - another user, where a user namespace with overlayfs is allowed:
//     rootless;
//   - root, where namespaces or mounts are refused, with the in-place
//     marker beside the binary: in place.
//
// Container markers are never enough to build in place: development
// machines carry them, and pods under containerd lack /.dockerenv. Only
// the marker baked into mybuild's own image is.
func Choose(f Facts) (Decision, error) {
	switch {
	case f.UID == 0 && f.Namespaces == nil:
		return Decision{Namespaces, "root, and namespaces and mounts are allowed"}, nil
	case f.UID != 0 && f.UserNamespace == nil:
		if err := f.checkSubIDs(); err != nil {
			return Decision{}, err
		}
		return Decision{Rootless, fmt.Sprintf("user %s, and user namespaces with overlayfs are allowed", f.User)}, nil
	case f.UID == 0 && f.HasInPlaceMarker:
		return Decision{InPlace, fmt.Sprintf("namespaces are refused (%v), and %s says this is mybuild's own container", f.Namespaces, f.InPlaceMarker)}, nil
	case f.UID == 0:
		return Decision{}, fmt.Errorf("no isolation mode works here: namespaces are refused (%v), and building in place needs the marker %s, which mybuild's image has (see docs/in-place.md)", f.Namespaces, f.InPlaceMarker)
	default:
		return Decision{}, fmt.Errorf("no isolation mode works here for user %s: user namespaces are refused (%v), and building in place needs root", f.User, f.UserNamespace)
	}
}

// Check tells whether mode, asked for with --isolation, may run here;
// force overrides the missing in-place marker only. Auto is Choose.
func Check(f Facts, mode Mode, force bool) (Decision, error) {
	switch mode {
	case Auto:
		return Choose(f)
	case Namespaces:
		if f.UID != 0 {
			return Decision{}, fmt.Errorf("--isolation=namespaces needs root: use --isolation=rootless as user %s", f.User)
		}
		if f.Namespaces != nil {
			return Decision{}, fmt.Errorf("--isolation=namespaces: namespaces are refused here: %v", f.Namespaces)
		}
		return Decision{Namespaces, "asked for"}, nil
	case Rootless:
		if f.UserNamespace != nil {
			return Decision{}, fmt.Errorf("--isolation=rootless: user namespaces are refused here: %v", f.UserNamespace)
		}
		if err := f.checkSubIDs(); err != nil {
			return Decision{}, err
		}
		return Decision{Rootless, "asked for"}, nil
	case InPlace:
		if f.UID != 0 {
			return Decision{}, fmt.Errorf("--isolation=in-place needs root: the build rewrites the container's root filesystem")
		}
		if !f.HasInPlaceMarker && !force {
			return Decision{}, fmt.Errorf("--isolation=in-place: %w: without %s this machine may not be a throwaway container, and building in place rewrites its root filesystem (add --force if it is throwaway)", ErrNoMarker, f.InPlaceMarker)
		}
		return Decision{InPlace, "asked for"}, nil
	}
	return Decision{}, fmt.Errorf("unknown isolation mode %q", mode)
}

// checkSubIDs fails when the rootless mode cannot map the ids an image
// holds: without a range of subordinate ids, only the user's own id could
// be mapped, and every file owned by another (an image's daemons, apt's
// _apt) would fail to be made.
func (f Facts) checkSubIDs() error {
	switch {
	case len(f.SubUIDs) == 0 || len(f.SubGIDs) == 0:
		return fmt.Errorf("the rootless mode needs ranges of subordinate ids for user %s in /etc/subuid and /etc/subgid: add them with: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", f.User, f.User)
	case f.NewUIDMap == "" || f.NewGIDMap == "":
		return fmt.Errorf("the rootless mode needs newuidmap and newgidmap: install them (apt-get install uidmap)")
	}
	return nil
}
