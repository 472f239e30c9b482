package layerdiff

import (
	"context"
	"io"

	"github.com/mybuild/mybuild/fswrite"
)

// Extract unpacks an uncompressed layer tar into dir, which exists, in the
// format overlayfs stacks: a ".wh.NAME" entry becomes a whiteout (a char
// device 0/0) at NAME, a ".wh..wh..opq" entry makes its directory opaque
// (trusted.overlay.opaque=y).
//
// The tar is not trusted. Names are taken relative to dir whatever their
// leading "/" or "./", a name whose ".." would leave dir is refused, and
// symlinks made by earlier entries are followed as if dir were "/", so no
// entry writes outside dir. Xattrs in the overlay namespaces are dropped.
//
// Entries replace earlier ones of the same name; a directory over a
// directory only updates its metadata. Whiteouts follow the OCI rule that
// they only hide the layers below: ".wh.NAME" next to a NAME of the same layer
// does not remove it (a directory NAME becomes opaque instead).
//
// A char device 0/0 in the tar cannot be told from a whiteout in overlay
// format, so it becomes one, as with Docker's overlay2 driver.
//
// The writing is fswrite's, which ADD's unpacking shares.
func Extract(ctx context.Context, r io.Reader, dir string, opts ...ExtractOption) error {
	var o extractOptions
	for _, opt := range opts {
		opt(&o)
	}
	return fswrite.Extract(ctx, r, dir, o.parents, o.skip, o.digests)
}
