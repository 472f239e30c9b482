package rootfs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// trashPrefix names the directories of the stage that a reset moves the
// old tree into.
const trashPrefix = "mybuild-trash-"

// trash is where one reset moves what it removes: a directory of the
// stage, on the tree's filesystem and left alone, each entry moved there
// by one rename, and removed in the background while the build goes on.
// Removing a tree of tens of thousands of files through a container's
// overlayfs takes seconds; a rename takes one system call.
type trash struct {
	d   *InPlace
	dir string
	n   int
}

// discard removes the tree's entry at p: moved into the trash when there
// is a stage, else, or where the rename fails (a directory of a lower
// layer of the container's own overlayfs, say), removed where it is.
func (t *trash) discard(p string) error {
	if t.d.stage != "" && t.dir == "" {
		t.dir, _ = os.MkdirTemp(t.d.stage, trashPrefix)
	}
	if t.dir != "" {
		t.n++
		if os.Rename(t.d.host(p), filepath.Join(t.dir, strconv.Itoa(t.n))) == nil {
			return nil
		}
	}
	return os.RemoveAll(t.d.host(p))
}

// empty removes the trash, and what earlier builds left of theirs, in
// the background.
func (t *trash) empty() {
	if t.d.stage == "" {
		return
	}
	entries, _ := os.ReadDir(t.d.stage)
	var dirs []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), trashPrefix) {
			dirs = append(dirs, filepath.Join(t.d.stage, e.Name()))
		}
	}
	if len(dirs) == 0 {
		return
	}
	t.d.emptying.Add(1)
	go func() {
		defer t.d.emptying.Done()
		for _, dir := range dirs {
			os.RemoveAll(dir)
		}
	}()
}
