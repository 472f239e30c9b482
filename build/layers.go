package build

import (
	"context"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/rootfs"
)

// unpack returns the unpacked dir of layer l, extracting its blob the first
// time; lower are the dirs of the layers below it, oldest first. Stages
// built at once from one base unpack its layers once.
func (b *builder) unpack(ctx context.Context, l image.Layer, lower []string) (string, error) {
	return b.unpacker.Unpack(ctx, l, lower)
}

// newUpper makes an empty dir for a step's changes. Its root takes the
// mode, owner and times of the image's root, which an overlay shows as
// "/" while the step runs, and which the next steps see through it.
func (b *builder) newUpper(stack *overlay.Stack) (string, error) {
	return rootfs.NewUpper(b.opts.Store, stack)
}
