package rootfs

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/sandbox"
	digest "github.com/opencontainers/go-digest"
)

// Driver makes the roots of build steps out of layers. Today's driver,
// Overlay, mounts overlayfs in namespaces of the step's own; a driver
// that builds in place, in the container mybuild runs in, or one for
// rootless overlayfs, are other implementations the builder does not
// tell apart but by their Features.
type Driver interface {
	// Features says what the driver can do, so that a build refuses what
	// it cannot before any step runs.
	Features() Features
	// Unpack returns layer l unpacked in the driver's form, unpacking its
	// blob the first time; below are the layers under it, oldest first.
	Unpack(ctx context.Context, l layer.Layer, below []Layer) (Layer, error)
	// Root makes the root of one step on lower, the layers so far, oldest
	// first. The caller closes it.
	Root(ctx context.Context, lower []Layer) (Root, error)
	// View is the merged, read-only tree of layers, oldest first: what
	// COPY --from and RUN --mount from= read of a stage.
	View(ctx context.Context, layers []Layer) (*overlay.Stack, error)
	// Settle ends what the driver left running or holds (Overlay: it
	// waits for the flushes and seals of the layers it unpacked or made,
	// and kills the init started ahead for a step that did not come;
	// InPlace: it lets go of the tree), and returns its first error. A
	// build calls it before it ends.
	Settle() error
}

// Holder is a Driver that must hold its root for a whole build (InPlace:
// one tree that two builds would rewrite at once): the builder calls
// Hold before any step, so that the driver's lock is never taken under
// a step's lock (a build holding the tree could wait for a step another
// build holds, while that build waits for the tree); Settle releases it.
type Holder interface {
	Hold(ctx context.Context) error
}

// Prestarter is a Driver that can start the sandbox of a RUN step before
// its root is made (Overlay's, see sandbox.Starter.StartAhead): a build
// calls StartAhead as soon as it knows such a step will run.
type Prestarter interface {
	StartAhead(p sandbox.Process)
}

// AheadChecker is a Driver that checks, in the background, the unpacked
// form of a layer a build found in its cache (Overlay's: against its
// seal, see Unpacker.CheckAhead), so that the first step that needs it
// unpacked finds it checked. Settle waits for the checks.
type AheadChecker interface {
	CheckAhead(ctx context.Context, l layer.Layer)
}

// Rebaser is a Root that, made on no layers, can be put on its own later
// (Overlay's): a COPY writes there while its base is being unpacked, and
// the build rebases it once it knows the base would not have changed
// what it wrote.
type Rebaser interface {
	Rebase(lower []Layer) error
}

// Root is one step's root filesystem. What the step changes goes to a
// layer of its own, which Diff writes out and Commit keeps unpacked.
type Root interface {
	// Files is where a step without a process (COPY, ADD, WORKDIR) writes:
	// dir, a tree that takes the new and changed files, over below, what
	// lies under it (nil when dir is the whole tree).
	Files() (dir string, below *overlay.Stack)
	// Run runs p in the root, confined as p.Security says with whatever
	// means the driver has, and waits for it.
	Run(ctx context.Context, p sandbox.Process) error
	// Diff writes what the step changed as a layer blob to w.
	Diff(ctx context.Context, w io.Writer, opts ...layerdiff.Option) (layer.Layer, error)
	// Commit keeps what the step changed as the unpacked form of l, for
	// the steps after it. Only Close may follow.
	Commit(l layer.Layer) (Layer, error)
	// Close removes what the root holds, unless committed. It may be
	// called more than once.
	Close() error
}

// Layer is a layer as a Driver holds it.
type Layer struct {
	// Blob is the layer blob it comes from, in the store.
	Blob layer.Layer
	// Dir holds the layer unpacked in the driver's form, when the driver
	// unpacks layers. For Overlay: an overlayfs lower dir, whiteouts being
	// 0/0 char devices and opaque directories marked with
	// trusted.overlay.opaque.
	Dir string
}

// DiffID is the digest of the layer's tar.
func (l Layer) DiffID() digest.Digest { return l.Blob.DiffID }

// Stack is the merged, read-only view of unpacked layers, oldest first.
func Stack(layers []Layer) *overlay.Stack {
	dirs := make([]string, len(layers))
	for i, l := range layers {
		dirs[len(layers)-1-i] = l.Dir
	}
	return overlay.NewStack(dirs...)
}

// Features is what a driver can do.
type Features struct {
	// Name names the driver in errors and progress: the isolation mode it
	// makes (namespaces, rootless, in-place).
	Name string
	// Exclusive is set for a driver whose steps must run one at a time on
	// the machine: one with a single root, such as the container's own.
	Exclusive bool
	// Mounts are the RUN --mount types steps may use: bind, cache, tmpfs,
	// secret, ssh.
	Mounts []string
	// Networks are the network modes steps may use.
	Networks []sandbox.Network
	// LinksLayers is set for a driver that may give a new layer hard
	// links to the files of unpacked layers (see fswrite.WithReuse):
	// one whose steps never write into a layer's files, nor move them
	// out of its upper dir. Overlayfs copies a file up before any change.
	LinksLayers bool
}

// CheckRun tells whether a RUN step with mounts of these types and this
// network can run on the driver.
func (f Features) CheckRun(mountTypes []string, network sandbox.Network) error {
	for _, t := range mountTypes {
		if !slices.Contains(f.Mounts, t) {
			return fmt.Errorf("RUN --mount=type=%s is not supported in the %s mode", t, f.Name)
		}
	}
	if network != "" && !slices.Contains(f.Networks, network) {
		return fmt.Errorf("RUN --network=%s is not supported in the %s mode", network, f.Name)
	}
	return nil
}
