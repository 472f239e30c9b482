package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/sandbox"
)

// tmpfsMode is the mode of a tmpfs mount's root, the kernel's default.
const tmpfsMode = fs.ModeDir | fs.ModeSticky | 0o777

// placed is the mounts of one step, emulated in the tree: each target
// holds the mount's content, and what was there is stashed in the store
// until the step is done. Restore puts the tree back.
type placed struct {
	root    string
	stashes string // a scratch dir of the store
	mounts  []placedMount
	// targets are the mounts' paths inside the tree: no diff looks there.
	targets []string
	// created are the directories made on the way to a target, oldest
	// first; touched are the directories of the snapshot whose entries
	// placing changed.
	created, touched []string
	// before are the times of touched before placing; times are those
	// created and touched get back once the mounts are gone.
	before, times map[string][2]time.Time
}

// placedMount is one mount in place.
type placedMount struct {
	host  string // the target, on the host
	stash string // where what was at host waits, or ""
	// source is the cache dir a writable bind moved to host, to move back;
	// copied says it had to be copied, across filesystems.
	source string
	copied bool
	proxy  *socketProxy
}

// placeMounts puts the content of mounts in place in the tree at root,
// in order, stashing what was at each target in a scratch dir of the
// store:
//   - a writable bind of a directory (a cache mount) is moved there, or
//     copied when it lies on another filesystem, and goes back after;
//   - a read-only bind, or an overlay (a stage, a context with hidden
//     files), is copied there; writes to the copy are thrown away;
//   - a tmpfs is an empty directory, 1777;
//   - a file (a secret) is written there with its owner and mode;
//   - a socket (the ssh agent) is a socket there that forwards every
//     connection to it.
//
// On error, what was placed is restored.
func placeMounts(ctx context.Context, root, stashes string, keep *keepSet, mounts []sandbox.Mount) (_ *placed, err error) {
	pl := &placed{root: root, stashes: stashes, before: map[string][2]time.Time{}, times: map[string][2]time.Time{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, pl.restore())
		}
	}()
	for i, m := range mounts {
		host, inner, err := pl.target(m.Target, keep)
		if err != nil {
			return nil, err
		}
		pm := placedMount{host: host}
		if _, err := os.Lstat(host); err == nil {
			pm.stash = filepath.Join(stashes, fmt.Sprintf("stash-%d", i))
			if err := move(ctx, host, pm.stash); err != nil {
				return nil, fmt.Errorf("mount on %s: %w", m.Target, err)
			}
		}
		err = pl.fill(ctx, &pm, m)
		pl.mounts = append(pl.mounts, pm)
		if err != nil {
			return nil, fmt.Errorf("mount on %s: %w", m.Target, err)
		}
		pl.targets = append(pl.targets, inner)
	}
	return pl, nil
}

// target resolves a mount's target inside the tree, makes the
// directories missing on the way, and returns it on the host and inside
// the tree.
func (pl *placed) target(target string, keep *keepSet) (host, inner string, err error) {
	host, err = securejoin.SecureJoin(pl.root, target)
	if err != nil {
		return "", "", fmt.Errorf("mount target %s: %w", target, err)
	}
	inner = under(pl.root, host)
	if inner == "/" || keep.has(inner) {
		return "", "", fmt.Errorf("mount target %s: %s is left alone by the in-place driver", target, inner)
	}
	dir := "/"
	for _, name := range strings.Split(strings.TrimPrefix(path.Dir(inner), "/"), "/") {
		if name == "" {
			continue
		}
		next := path.Join(dir, name)
		fi, err := os.Lstat(pl.host(next))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if len(pl.created) == 0 || path.Dir(next) != pl.created[len(pl.created)-1] {
				pl.touch(dir)
			}
			if err := os.Mkdir(pl.host(next), 0o755); err != nil {
				return "", "", fmt.Errorf("mount target %s: %w", target, err)
			}
			pl.created = append(pl.created, next)
		case err != nil:
			return "", "", fmt.Errorf("mount target %s: %w", target, err)
		case !fi.IsDir():
			return "", "", fmt.Errorf("mount target %s: %s is not a directory", target, next)
		}
		dir = next
	}
	if !pl.isCreated(dir) {
		pl.touch(dir)
	}
	return host, inner, nil
}

func (pl *placed) host(p string) string { return filepath.Join(pl.root, p) }

// touch records that placing is about to change the entries of dir, and
// dir's times before it does.
func (pl *placed) touch(dir string) {
	if _, ok := pl.before[dir]; ok {
		return
	}
	if fi, err := os.Lstat(pl.host(dir)); err == nil {
		pl.before[dir] = timesOf(fi)
	}
	pl.touched = append(pl.touched, dir)
}

func timesOf(fi fs.FileInfo) [2]time.Time {
	st := fi.Sys().(*syscall.Stat_t)
	return [2]time.Time{time.Unix(st.Atim.Unix()), time.Unix(st.Mtim.Unix())}
}

func (pl *placed) isCreated(dir string) bool {
	for _, c := range pl.created {
		if c == dir {
			return true
		}
	}
	return false
}

// fill puts m's content at pm.host, where nothing is.
func (pl *placed) fill(ctx context.Context, pm *placedMount, m sandbox.Mount) error {
	switch m.Kind {
	case sandbox.MountTmpfs:
		if err := os.Mkdir(pm.host, 0o700); err != nil {
			return err
		}
		return fswrite.Apply(pm.host, fswrite.Meta{Mode: tmpfsMode})
	case sandbox.MountFile:
		return fswrite.WriteFile(pm.host, strings.NewReader(string(m.Data)),
			fswrite.Meta{Owner: fswrite.Owner{UID: uint32(m.UID), GID: uint32(m.GID)}, Mode: m.Mode.Perm()})
	case sandbox.MountOverlay:
		src := path.Clean("/" + m.Source)
		return fswrite.CopyTree(ctx, overlay.NewStack(m.Lower...), src, pm.host)
	case sandbox.MountBind:
		fi, err := os.Stat(m.Source)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSocket != 0:
			pm.proxy, err = proxySocket(pm.host, m.Source)
			return err
		case fi.IsDir() && !m.ReadOnly:
			pm.source = m.Source
			pm.copied, err = moveOrCopy(ctx, m.Source, pm.host)
			return err
		default:
			return fswrite.CopyPath(ctx, m.Source, pm.host)
		}
	}
	return fmt.Errorf("mount kind %q: %w", m.Kind, errNotSupported)
}

// settle says which of the directories placing touched the step itself
// changed: those whose stat differs from the one taken after placing, in
// keys. They, and the directories placing made, get back the times the
// step left them; the others their times from before placing.
func (pl *placed) settle(keys map[string]statKey) map[string]bool {
	changed := map[string]bool{}
	for _, d := range append(append([]string(nil), pl.touched...), pl.created...) {
		fi, err := os.Lstat(pl.host(d))
		if err != nil {
			continue
		}
		pl.times[d] = timesOf(fi)
		k, ok := keys[d]
		if !ok {
			continue
		}
		changed[d] = keyOfInfo(fi) != k
		if t, ok := pl.before[d]; ok && !changed[d] {
			pl.times[d] = t
		}
	}
	return changed
}

// keys are the stat keys of the touched directories, once placed.
func (pl *placed) keys() map[string]statKey {
	out := map[string]statKey{}
	for _, d := range pl.touched {
		if fi, err := os.Lstat(pl.host(d)); err == nil {
			out[d] = keyOfInfo(fi)
		}
	}
	return out
}

// restore takes every mount away, newest first, putting back what was
// there, and a cache mount's content back in the cache; it removes the
// directories made on the way that the step left empty, and gives the
// touched ones their times back. It tries everything and reports every
// failure.
func (pl *placed) restore() error {
	var errs []error
	for i := len(pl.mounts) - 1; i >= 0; i-- {
		errs = append(errs, pl.unplace(pl.mounts[i]))
	}
	pl.mounts = nil
	for i := len(pl.created) - 1; i >= 0; i-- {
		err := os.Remove(pl.host(pl.created[i]))
		if err != nil && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for d, t := range pl.times {
		err := os.Chtimes(pl.host(d), t[0], t[1])
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unplace takes one mount away.
func (pl *placed) unplace(pm placedMount) error {
	var errs []error
	if pm.proxy != nil {
		errs = append(errs, pm.proxy.Close())
	}
	if pm.source != "" {
		errs = append(errs, putBack(pm))
	}
	if err := os.RemoveAll(pm.host); err != nil {
		errs = append(errs, err)
	}
	if pm.stash != "" {
		if err := move(context.Background(), pm.stash, pm.host); err != nil {
			errs = append(errs, fmt.Errorf("put back %s: %w", under(pl.root, pm.host), err))
		}
	}
	return errors.Join(errs...)
}

// putBack returns a cache mount's content to the cache. A step that
// removed the mount's directory leaves the cache empty.
func putBack(pm placedMount) error {
	if _, err := os.Lstat(pm.host); errors.Is(err, fs.ErrNotExist) {
		return os.Mkdir(pm.source, 0o755)
	}
	if !pm.copied {
		return os.Rename(pm.host, pm.source)
	}
	fresh := pm.source + ".new"
	if err := fswrite.CopyPath(context.Background(), pm.host, fresh); err != nil {
		os.RemoveAll(fresh)
		return err
	}
	if err := os.RemoveAll(pm.source); err != nil {
		return err
	}
	return os.Rename(fresh, pm.source)
}

// moveOrCopy moves src to dst, which must not exist, or copies it there
// when they lie on different filesystems; copied says which.
func moveOrCopy(ctx context.Context, src, dst string) (copied bool, err error) {
	err = os.Rename(src, dst)
	if !errors.Is(err, syscall.EXDEV) {
		return false, err
	}
	return true, fswrite.CopyPath(ctx, src, dst)
}

// move moves src to dst, which must not exist, across filesystems too.
func move(ctx context.Context, src, dst string) error {
	copied, err := moveOrCopy(ctx, src, dst)
	if err != nil || !copied {
		return err
	}
	return os.RemoveAll(src)
}
