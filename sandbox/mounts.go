package sandbox

import (
	"fmt"
	"io/fs"
	"path"
)

// MountKind says what a Mount puts at its target.
type MountKind string

const (
	// MountBind binds a host file or directory (Source).
	MountBind MountKind = "bind"
	// MountOverlay mounts a stack of layer dirs (Lower) and binds its
	// Source path; writes, when allowed, go to a throw-away upper dir.
	MountOverlay MountKind = "overlay"
	// MountTmpfs mounts an empty tmpfs of at most Size bytes.
	MountTmpfs MountKind = "tmpfs"
	// MountFile puts Data in a read-only file, from a private tmpfs: the
	// bytes never touch a disk (secrets).
	MountFile MountKind = "file"
)

// Mount is something a step sees besides its root. It never reaches the
// step's layer: its target is a mount point from the stub layer, and what
// the step writes under it goes to the mounted filesystem.
type Mount struct {
	Kind   MountKind `json:"kind"`
	Target string    `json:"target"` // absolute, inside the root
	// Source is the host path of a bind, or the path inside the overlay's
	// tree for MountOverlay ("" is its root).
	Source   string      `json:"source,omitempty"`
	Lower    []string    `json:"lower,omitempty"` // MountOverlay, newest first
	ReadOnly bool        `json:"readonly,omitempty"`
	Size     int64       `json:"size,omitempty"` // MountTmpfs; 0: the kernel's default
	Data     []byte      `json:"data,omitempty"` // MountFile
	UID      int         `json:"uid,omitempty"`  // MountFile
	GID      int         `json:"gid,omitempty"`  // MountFile
	Mode     fs.FileMode `json:"mode,omitempty"` // MountFile: its permission bits, as given (0 is 0000)
	// File is set when the target is a file rather than a directory.
	File bool `json:"file,omitempty"`
}

func (m *Mount) validate() error {
	if !path.IsAbs(m.Target) || path.Clean(m.Target) == "/" {
		return fmt.Errorf("sandbox: invalid mount target %q", m.Target)
	}
	switch m.Kind {
	case MountBind:
		if m.Source == "" {
			return fmt.Errorf("sandbox: bind mount on %s has no source", m.Target)
		}
	case MountOverlay:
		if len(m.Lower) == 0 {
			return fmt.Errorf("sandbox: overlay mount on %s has no layers", m.Target)
		}
	case MountTmpfs:
	case MountFile:
		m.File, m.ReadOnly = true, true
	default:
		return fmt.Errorf("sandbox: unknown mount kind %q", m.Kind)
	}
	m.Target = path.Clean(m.Target)
	return nil
}
