package rootfs

import (
	"context"
	"io"
	"os"
	"sync"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/sandbox"
	digest "github.com/opencontainers/go-digest"
)

// Overlay is the driver for root: a step's root is an overlayfs mount of
// the layers so far (read-only lower dirs) and a fresh upper dir, in mount,
// PID, UTS and IPC namespaces of its own, after pivot_root (sandbox.Run).
// Layers are unpacked into the store once each, as lower dirs; the upper
// dir of a step becomes its layer's unpacked dir.
type Overlay struct {
	store    *cache.Store
	unpacker *Unpacker
	rootless bool
	// starter runs the steps, starting the next one's init ahead.
	starter *sandbox.Starter
}

var _ Driver = (*Overlay)(nil)

// OverlayOption configures NewOverlay.
type OverlayOption func(*Overlay)

// Rootless is the overlay driver of a builder in a user namespace (the
// rootless mode): device nodes of base layers, which cannot be made
// there, are left out of the unpacked layers, and warn says so once.
// Unpacked layers are then in the user.overlay.* form (see
// overlay.XattrPrefix).
func Rootless(warn func(string)) OverlayOption {
	return func(o *Overlay) {
		o.rootless = true
		o.unpacker.skipDevices, o.unpacker.warn = true, warn
	}
}

// Warnings gives warn what the driver has to say: an unpacked layer found
// damaged, and unpacked again.
func Warnings(warn func(string)) OverlayOption {
	return func(o *Overlay) { o.unpacker.warn = warn }
}

// NewOverlay returns the overlay driver for the layers of store.
func NewOverlay(store *cache.Store, opts ...OverlayOption) *Overlay {
	o := &Overlay{store: store, unpacker: NewUnpacker(store), starter: &sandbox.Starter{}}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Settle waits for the flushes and seals of the layers unpacked so far
// (see Unpacker.Settle), and kills the init started ahead for a step that
// did not come (see sandbox.Starter).
func (o *Overlay) Settle() error {
	o.starter.Close()
	return o.unpacker.Settle()
}

// CheckAhead checks the unpacked layer l in the background, when it is
// unpacked already.
func (o *Overlay) CheckAhead(ctx context.Context, l layer.Layer) {
	o.unpacker.CheckAhead(ctx, l.DiffID)
}

// StartAhead starts the sandbox init of a step that will run p.
func (o *Overlay) StartAhead(p sandbox.Process) { o.starter.StartAhead(p) }

// Repair unpacks a damaged layer again (see Unpacker.Repair), in this
// driver's form.
func (o *Overlay) Repair(ctx context.Context, diffID digest.Digest) error {
	return o.unpacker.Repair(ctx, diffID)
}

// Features: every mount type and network mode, steps side by side.
func (o *Overlay) Features() Features {
	name := "namespaces"
	if o.rootless {
		name = "rootless"
	}
	return Features{
		Name:        name,
		Mounts:      []string{"bind", "cache", "tmpfs", "secret", "ssh"},
		Networks:    []sandbox.Network{sandbox.NetworkHost, sandbox.NetworkNone},
		LinksLayers: true,
	}
}

// Unpack extracts l's blob, once, into the store's unpacked layers.
func (o *Overlay) Unpack(ctx context.Context, l layer.Layer, below []Layer) (Layer, error) {
	dirs := make([]string, len(below))
	for i, b := range below {
		dirs[i] = b.Dir
	}
	dir, err := o.unpacker.Unpack(ctx, l, dirs)
	if err != nil {
		return Layer{}, err
	}
	return Layer{Blob: l, Dir: dir}, nil
}

// View stacks the layers' unpacked dirs.
func (o *Overlay) View(_ context.Context, layers []Layer) (*overlay.Stack, error) {
	return Stack(layers), nil
}

// Root makes an empty upper dir in the store's scratch space, with the
// metadata of the image's "/" (see NewUpper).
func (o *Overlay) Root(ctx context.Context, lower []Layer) (Root, error) {
	stack := Stack(lower)
	upper, err := NewUpper(o.store, stack)
	if err != nil {
		return nil, err
	}
	return &overlayRoot{store: o.store, unpacker: o.unpacker, starter: o.starter, lower: stack, upper: upper}, nil
}

// overlayRoot is an upper dir over a stack of unpacked layers.
type overlayRoot struct {
	store    *cache.Store
	unpacker *Unpacker
	starter  *sandbox.Starter
	lower    *overlay.Stack
	upper    string

	// The content digests Diff read, for Commit to seal the upper dir
	// without reading it again, and the store's clock before it read.
	mu        sync.Mutex
	known     map[uint64]cache.KnownContent
	readAfter int64
}

func (r *overlayRoot) Files() (string, *overlay.Stack) { return r.upper, r.lower }

// Rebase puts a root made on no layers on lower, the layers its step was
// meant for: the upper dir takes the metadata of their "/", as NewUpper
// gives it, and Diff and Run see them below.
func (r *overlayRoot) Rebase(lower []Layer) error {
	stack := Stack(lower)
	if err := setRootMeta(r.upper, stack); err != nil {
		return err
	}
	r.lower = stack
	return nil
}

// Run mounts the overlay and runs p in its sandbox (see sandbox.Run); the
// mounts live in the sandbox's mount namespace only.
func (r *overlayRoot) Run(ctx context.Context, p sandbox.Process) error {
	scratch, err := r.store.TempDir("run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	return r.starter.Run(ctx, sandbox.Spec{Lower: r.lower.Dirs(), Upper: r.upper, Scratch: scratch, Process: p})
}

// Diff reads only the upper dir, and the lower layers where it must know
// what a change hides (see layerdiff.WriteBlob).
func (r *overlayRoot) Diff(ctx context.Context, w io.Writer, opts ...layerdiff.Option) (layer.Layer, error) {
	readAfter, err := r.store.Clock()
	if err != nil {
		return layer.Layer{}, err
	}
	known := map[uint64]cache.KnownContent{}
	opts = append(opts, layerdiff.WithContentDigests(func(d layerdiff.ContentDigest) {
		known[d.Ino] = cache.KnownContent{Ino: d.Ino, Size: d.Size, Mtime: d.Mtime, Ctime: d.Ctime, Digest: d.Digest}
	}))
	l, err := layerdiff.WriteBlob(ctx, w, r.upper, r.lower, opts...)
	r.mu.Lock()
	r.known, r.readAfter = known, readAfter
	r.mu.Unlock()
	return l, err
}

// Commit renames the upper dir into the store's unpacked layers: it is
// in overlayfs' format already.
func (r *overlayRoot) Commit(l layer.Layer) (Layer, error) {
	r.mu.Lock()
	known, readAfter := r.known, r.readAfter
	r.mu.Unlock()
	// Flushed and sealed while the next step runs on it, as a base layer
	// is (see Unpacker.Unpack); the build's record of the step flushes
	// it first anyway (cache.Store.PutStep).
	dir, sealed, err := r.store.CommitLayerLater(r.upper, l.DiffID, cache.WithKnownContent(known, readAfter))
	if err != nil {
		return Layer{}, err
	}
	r.unpacker.sealLater(sealed)
	r.unpacker.MarkChecked(l.DiffID)
	return Layer{Blob: l, Dir: dir}, nil
}

// Close removes the upper dir, which a Commit moved away already.
func (r *overlayRoot) Close() error { return os.RemoveAll(r.upper) }
