package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/overlay"
)

// mountPoint is a path the sandbox mounts something on.
type mountPoint struct {
	path string
	dir  bool
}

var kernelMounts = []mountPoint{{"/proc", true}, {"/sys", true}, {"/dev", true}}

// hostFiles are bind-mounted read-only from the host when it has them.
var hostFiles = []string{"/etc/resolv.conf", "/etc/hosts"}

// makeStubs makes every mount point exist in the merged root without
// touching the upper dir. Paths missing from the image are created in a
// separate layer, stubs, that sits on top of the lower layers and is thrown
// away after the step; its parent directories copy the metadata of the
// directories they shadow, so the step sees the image unchanged. Mount
// points therefore never leak into the step's layer. It returns the bind
// mounts, with targets resolved inside the root.
//
// The targets of the step's own mounts get stubs too, and are rewritten to
// their resolved paths.
func makeStubs(stack *overlay.Stack, stubs string, mounts []Mount) (_ []bind, err error) {
	if err := os.Mkdir(stubs, 0o755); err != nil {
		return nil, err
	}
	for _, mp := range kernelMounts {
		if _, err := stub(stack, stubs, mp); err != nil {
			return nil, err
		}
	}
	for i := range mounts {
		target, err := stub(stack, stubs, mountPoint{path: mounts[i].Target, dir: !mounts[i].File})
		if err != nil {
			return nil, err
		}
		mounts[i].Target = target
	}
	var binds []bind
	defer func() {
		if err == nil {
			err = copyDirTimes(stack, stubs)
		}
	}()
	for _, f := range hostFiles {
		if _, err := os.Stat(f); err != nil {
			continue
		}
		target, err := stub(stack, stubs, mountPoint{path: f})
		if err != nil {
			return nil, err
		}
		binds = append(binds, bind{Source: f, Target: target})
	}
	return binds, nil
}

// stub makes mp exist, following symlinks inside the root, and returns the
// resolved path.
func stub(stack *overlay.Stack, stubs string, mp mountPoint) (string, error) {
	target, err := stack.Resolve(mp.path)
	if err != nil {
		return "", fmt.Errorf("mount point %s: %w", mp.path, err)
	}
	e, err := stack.Lstat(target)
	if err == nil {
		if e.IsDir() != mp.dir {
			return "", fmt.Errorf("mount point %s: the image has a %s there", mp.path, kind(e.IsDir()))
		}
		return target, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := stubParents(stack, stubs, path.Dir(target)); err != nil {
		return "", err
	}
	host := filepath.Join(stubs, target)
	if mp.dir {
		err = os.Mkdir(host, 0o755)
	} else {
		err = os.WriteFile(host, nil, 0o644)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create mount point %s: %w", target, err)
	}
	return target, nil
}

// stubParents creates dir and its parents in stubs, copying the mode,
// owner and times of each directory the image already has.
func stubParents(stack *overlay.Stack, stubs, dir string) error {
	if dir == "/" {
		return nil
	}
	if err := stubParents(stack, stubs, path.Dir(dir)); err != nil {
		return err
	}
	host := filepath.Join(stubs, dir)
	if _, err := os.Lstat(host); err == nil {
		return nil
	}
	if err := os.Mkdir(host, 0o755); err != nil {
		return err
	}
	e, err := stack.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !e.IsDir() {
		return fmt.Errorf("mount point parent %s: the image has a file there", dir)
	}
	return fswrite.Apply(host, imageDirMeta(e))
}

// imageDirMeta is the owner and mode of the image's directory e, without
// its times: those come last, once the stubs inside exist.
func imageDirMeta(e overlay.Entry) fswrite.Meta {
	st := e.Sys().(*syscall.Stat_t)
	return fswrite.Meta{Owner: fswrite.Owner{UID: st.Uid, GID: st.Gid}, Mode: e.Mode()}
}

// copyDirTimes gives each stub directory the times of the image directory
// it shadows (its mtime as atime too), once every stub inside it exists;
// with its owner and mode again, which stubParents gave it.
func copyDirTimes(stack *overlay.Stack, stubs string) error {
	var dirs []string
	err := filepath.WalkDir(stubs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != stubs {
			dirs = append(dirs, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		rel, _ := filepath.Rel(stubs, dirs[i])
		e, err := stack.Lstat("/" + rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		m := imageDirMeta(e)
		m.Atime, m.Mtime = e.ModTime(), e.ModTime()
		if err := fswrite.Apply(dirs[i], m); err != nil {
			return err
		}
	}
	return nil
}

func kind(dir bool) string {
	if dir {
		return "directory"
	}
	return "file"
}
