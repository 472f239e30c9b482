package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/sandbox"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// InPlace is the driver for building where no mount and no namespace can
// be made, in an unprivileged container: the container is the build
// environment, as with Kaniko. The tree at its root (the container's own
// "/") takes the layers of the stage a step runs in, the step runs there
// with the container's /proc, /dev and /sys, and what it changed is found
// by comparing the tree before and after, re-reading only what changed.
//
// There is one root: steps run one at a time (Features.Exclusive), and a
// step of another stage first resets it. What keep names (the builder's
// own files, its cache, the context, the outputs, /proc, /sys, /dev and
// every mount point) is never written, removed or diffed.
//
// A RUN step is as confined as the container that holds it, and no more:
// InPlace adds no confinement of its own.
type InPlace struct {
	store *cache.Store
	root  string
	keep  *keepSet

	mu sync.Mutex
	// applied are the layers the tree holds now, oldest first, when it is
	// known to hold exactly those; nil when it holds what no layer list
	// says (never reset, or a step failed in it).
	applied []layer.Layer
	known   bool
	// stage is where a COPY, ADD or WORKDIR stages its files, when it is
	// a kept directory of the tree's own filesystem: they are moved into
	// the tree then, not written again from the layer.
	stage string
	// views checks the views kept in the store against their seal, once
	// per build, and warns of a damaged one as the overlay driver does of
	// a damaged layer: it is the Unpacker's check, on a chain ID.
	views *Unpacker
	// emptying counts the trash removals under way (see trash).
	emptying sync.WaitGroup
	// treeLock is the descriptor of the tree's root that holds its lock
	// (see lockTree) from the first Root to Settle, -1 when not held.
	treeLock int
	lockMu   sync.Mutex
	warn     func(string)
}

// InPlaceOption configures NewInPlace.
type InPlaceOption func(*InPlace)

// StageIn has COPY, ADD and WORKDIR stage their files in dir, the host
// path of a directory the tree leaves alone, on the tree's filesystem
// (mybuild's image has TMPDIR=/mybuild/tmp): committing them moves them
// into the tree by renames. Anywhere else, dir is not used, and the
// files are staged in the store and applied from their layer's blob.
func StageIn(dir string) InPlaceOption {
	return func(d *InPlace) {
		rel, err := filepath.Rel(d.root, dir)
		if err != nil || !filepath.IsLocal(rel) || !d.keep.has("/"+filepath.ToSlash(rel)) {
			return
		}
		var root, st unix.Stat_t
		if unix.Stat(d.root, &root) != nil || unix.Stat(dir, &st) != nil || root.Dev != st.Dev {
			return
		}
		d.stage = dir
	}
}

var _ Driver = (*InPlace)(nil)

// InPlaceWarnings gives warn what the driver has to say: a view kept in
// the store found damaged, and made again from its layers' blobs.
func InPlaceWarnings(warn func(string)) InPlaceOption {
	return func(d *InPlace) { d.views.warn, d.warn = warn, warn }
}

// NewInPlace returns the in-place driver of the tree at root ("/" when
// building for real), which leaves alone keep (paths inside that tree).
func NewInPlace(store *cache.Store, root string, keep []string, opts ...InPlaceOption) *InPlace {
	d := &InPlace{store: store, root: root, keep: newKeepSet(keep...), views: NewUnpacker(store), treeLock: -1}
	for _, opt := range opts {
		opt(d)
	}
	return d
}

// Features: one step at a time, on the container's network; every RUN
// --mount type, emulated.
func (d *InPlace) Features() Features {
	return Features{
		Name:      "in-place",
		Exclusive: true,
		Mounts:    []string{"bind", "cache", "tmpfs", "secret", "ssh"},
		Networks:  []sandbox.Network{sandbox.NetworkHost},
	}
}

// Unpack unpacks nothing: a layer is applied to the tree when a root
// needs it, from its blob.
func (d *InPlace) Unpack(_ context.Context, l layer.Layer, _ []Layer) (Layer, error) {
	return Layer{Blob: l}, nil
}

// Root makes the tree hold lower: the missing layers are applied when it
// holds a beginning of lower, else it is emptied (but for keep) and every
// layer applied. A root on no layers (the first step of FROM scratch, a
// COPY --link) leaves the tree as it is until a RUN needs it: its files
// lie on nothing.
func (d *InPlace) Root(ctx context.Context, lower []Layer) (Root, error) {
	if err := refuseRealRoot(d.root, os.Getenv); err != nil {
		return nil, err
	}
	if err := d.lockTree(ctx); err != nil {
		return nil, err
	}
	want := make([]layer.Layer, len(lower))
	for i, l := range lower {
		want[i] = l.Blob
	}
	if len(want) > 0 {
		if err := d.hold(ctx, want); err != nil {
			return nil, err
		}
	}
	staged, err := d.stagingDir()
	if err != nil {
		return nil, err
	}
	return &inPlaceRoot{d: d, lower: want, staged: staged, onTree: len(want) > 0}, nil
}

// stagingDir makes the upper dir a root's COPY, ADD or WORKDIR writes in.
func (d *InPlace) stagingDir() (string, error) {
	var dir string
	var err error
	if d.stage != "" {
		dir, err = os.MkdirTemp(d.stage, "mybuild-files-")
	} else {
		dir, err = d.store.TempDir("files-")
	}
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// place gives the tree the staged files of layer l: moved there from a
// stage on its filesystem, or else applied from l's blob. The blob also
// finishes a move that failed half-way: it holds every entry.
func (d *InPlace) place(staged string, l layer.Layer) error {
	if d.stage != "" && fswrite.MoveUpper(context.Background(), staged, d.root, d.keep.has) == nil {
		return nil
	}
	return applyBlob(context.Background(), d.store, l, d.root, d.keep.has)
}

// hold makes the tree hold exactly want.
func (d *InPlace) hold(ctx context.Context, want []layer.Layer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.setTree(ctx, want); err != nil {
		d.known = false
		return err
	}
	return nil
}

// setTree brings the tree to hold exactly want.
func (d *InPlace) setTree(ctx context.Context, want []layer.Layer) error {
	from := 0
	if d.known && len(d.applied) <= len(want) && sameLayers(d.applied, want[:len(d.applied)]) {
		from = len(d.applied)
	} else {
		if err := d.reset(); err != nil {
			return err
		}
		d.applied, d.known = nil, true
	}
	for _, l := range want[from:] {
		if err := applyBlob(ctx, d.store, l, d.root, d.keep.has); err != nil {
			d.known = false
			return err
		}
		d.applied = append(d.applied, l)
	}
	return nil
}

// forget records that the tree holds what no layer list says: the next
// root resets it.
func (d *InPlace) forget() {
	d.mu.Lock()
	d.known = false
	d.mu.Unlock()
}

func sameLayers(a, b []layer.Layer) bool {
	return slices.EqualFunc(a, b, func(x, y layer.Layer) bool { return x.DiffID == y.DiffID })
}

// reset empties the tree but for what keep holds, and the directories on
// the way to it.
func (d *InPlace) reset() error {
	t := &trash{d: d}
	err := d.clearDir("/", t)
	t.empty()
	if errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("%w: a build in place rewrites the container's root filesystem, which is read-only here (docker run --read-only, readOnlyRootFilesystem in Kubernetes)", err)
	}
	return err
}

func (d *InPlace) clearDir(dir string, t *trash) error {
	entries, err := os.ReadDir(d.host(dir))
	if err != nil {
		return fmt.Errorf("reset the root: %w", err)
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		switch {
		case d.keep.has(p):
		case d.keep.holdsBelow(p) && e.IsDir():
			if err := d.clearDir(p, t); err != nil {
				return err
			}
		default:
			if err := t.discard(p); err != nil {
				return fmt.Errorf("reset the root: %w", err)
			}
		}
	}
	return nil
}

func (d *InPlace) host(p string) string { return path.Join(d.root, p) }

// Settle lets another build change the tree (see lockTree). It waits for
// nothing: the in-place mode commits what it unpacks before it uses it,
// and the trash of an emptied tree, in a dir of its own, may still be
// being removed.
func (d *InPlace) Settle() error {
	d.unlockTree()
	return nil
}

// View applies the layers, in order, to a directory of their own in the
// store, kept there as the unpacked form of the chain (a stage copied
// from is usually copied from again). It holds no whiteouts: a plain tree
// of what the stage holds. A kept view is checked against its seal once
// per build before it is used; a damaged one is made again, with a
// warning (InPlaceWarnings), one without a seal silently.
func (d *InPlace) View(ctx context.Context, layers []Layer) (*overlay.Stack, error) {
	if len(layers) == 0 {
		return overlay.NewStack(), nil
	}
	chain := chainID(layers)
	if d.store.HasLayer(chain) {
		ok, err := d.views.check(ctx, chain)
		if err != nil {
			return nil, fmt.Errorf("view of %d layers: %w", len(layers), err)
		}
		if ok {
			return overlay.NewStack(d.store.LayerPath(chain)), nil
		}
	}
	dir, err := d.store.TempDir("view-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for _, l := range layers {
		if err := applyBlob(ctx, d.store, l.Blob, dir, func(string) bool { return false }); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	final, err := d.store.CommitLayer(dir, chain)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d.views.MarkChecked(chain)
	return overlay.NewStack(final), nil
}

// chainID names a list of layers, as the OCI chain ID does.
func chainID(layers []Layer) digest.Digest {
	id := layers[0].DiffID()
	for _, l := range layers[1:] {
		id = digest.FromString(id.String() + " " + l.DiffID().String())
	}
	return id
}

// applyBlob applies the layer blob l of store to the tree at root,
// checking its diffID on the way.
func applyBlob(ctx context.Context, store *cache.Store, l layer.Layer, root string, keep func(string) bool) error {
	r, _, err := store.OpenBlob(l.Digest)
	if err != nil {
		return fmt.Errorf("apply layer %s: %w", l.DiffID, err)
	}
	defer r.Close()
	tr, err := layer.Decompress(ctx, r, l.MediaType)
	if err != nil {
		return fmt.Errorf("apply layer %s: %w", l.DiffID, err)
	}
	defer tr.Close()
	d := digest.Canonical.Digester()
	if err := fswrite.ApplyLayer(ctx, io.TeeReader(tr, d.Hash()), root, keep); err != nil {
		err = tr.Blame(err)
		if errors.Is(err, fswrite.ErrKeptBelow) {
			err = fmt.Errorf("%w, as a mount point is by a build in place: mount nothing where the image has a file or a symlink (in Kubernetes, automountServiceAccountToken: false frees /var/run)", err)
		}
		return fmt.Errorf("apply layer %s: %w", l.DiffID, err)
	}
	if _, err := io.Copy(d.Hash(), tr); err != nil {
		return fmt.Errorf("apply layer %s: %w", l.DiffID, err)
	}
	if got := d.Digest(); got != l.DiffID {
		return fmt.Errorf("apply layer %s: the tar hashes to %s", l.DiffID, got)
	}
	return nil
}

var errNotSupported = errors.New("not supported in the in-place mode")
