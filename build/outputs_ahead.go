package build

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/transport"
)

// startAheads begins to write the archive outputs (see
// transport.StartAhead) with the layers st, the target stage, has when
// one of its steps misses: those of its base and of the steps before the
// miss. The image will differ from the one in place, and begin with those
// layers, written as they are (when the output converts them after all,
// the archive is written the usual way). The copy of a large base, or of
// many cached layers, then runs beside the steps, rather than after them.
// A warm build, whose archive is in place, begins none; nor is an output
// begun inside a build context, where a later COPY would read the file
// being written (mybuild -t app.tar .).
func (b *builder) startAheads(st *stage) {
	if len(st.img.Layers) == 0 {
		return
	}
	first := slices.Clone(st.img.Layers)
	begun := map[string]*transport.Ahead{}
	for _, out := range b.opts.Outputs {
		if _, dup := begun[out.Path]; dup || b.inContext(out.Path) {
			continue
		}
		if a := transport.StartAhead(b.aheadCtx, out, first, b.opts.Store); a != nil {
			begun[out.Path] = a
		}
	}
	b.mu.Lock()
	b.aheads = begun
	b.mu.Unlock()
}

// inContext reports whether the path p is inside a build context dir,
// or cannot be resolved.
func (b *builder) inContext(p string) bool {
	abs, err := resolvedPath(p)
	if err != nil {
		return true
	}
	dirs := []string{b.opts.Context}
	for _, c := range b.opts.Contexts {
		dirs = append(dirs, c.Dir)
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		root, err := resolvedPath(d)
		if err != nil || abs == root || strings.HasPrefix(abs, root+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// resolvedPath is p made absolute, its directory's symlinks resolved.
func resolvedPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}

// ahead is the archive begun for out, or nil (Save writes out the usual
// way when the one begun is another output's of the same path).
func (b *builder) ahead(out transport.Ref) *transport.Ahead {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.aheads[out.Path]
}

// abortAheads drops the archives begun and not saved: a failed build
// leaves its outputs as they were.
func (b *builder) abortAheads() {
	b.mu.Lock()
	aheads := b.aheads
	b.aheads = nil
	b.mu.Unlock()
	for _, a := range aheads {
		a.Abort()
	}
}
