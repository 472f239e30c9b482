package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/layer"
)

// skippedPath is the store's record of the device nodes left out of the
// unpacked layer l: every build that uses the layer says so.
func (u *Unpacker) skippedPath(l layer.Layer) string {
	return u.store.StatePath("skipped-devices-" + l.DiffID.Encoded())
}

// recordSkipped records the device nodes left out of l, one per line.
func (u *Unpacker) recordSkipped(l layer.Layer, paths []string) error {
	return atomicfile.Write(u.skippedPath(l), func(w io.Writer) error {
		_, err := io.WriteString(w, strings.Join(paths, "\n")+"\n")
		return err
	})
}

// warnSkipped warns, once per Unpacker, when the unpacked l lacks device
// nodes of its blob.
func (u *Unpacker) warnSkipped(l layer.Layer) {
	data, err := os.ReadFile(u.skippedPath(l))
	if errors.Is(err, fs.ErrNotExist) || u.warn == nil {
		return
	}
	paths := strings.Fields(string(data))
	slices.Sort(paths)
	u.warned.Do(func() {
		msg := fmt.Sprintf("the base image holds %d device nodes (%s), which a user namespace cannot make: RUN steps do not see them, as with rootless containerd; the image keeps them", len(paths), shortList(paths, 3))
		if err != nil {
			msg = fmt.Sprintf("layer %s: %v", l.DiffID, err)
		}
		u.warn(msg)
	})
}

func shortList(paths []string, n int) string {
	if len(paths) <= n {
		return strings.Join(paths, ", ")
	}
	return strings.Join(paths[:n], ", ") + ", ..."
}
