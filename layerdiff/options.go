package layerdiff

import (
	"time"

	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/overlay"
)

// Option configures Write and WriteBlob.
type Option func(*options)

type options struct {
	compression layer.Compression
	epoch       *time.Time // clamp mtimes to this, when set
	digests     func(ContentDigest)
	previous    *Previous
	members     func([]Member)
}

func newOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithCompression selects the compression WriteBlob and Recompress use;
// the zero Compression (gzip at its default level) without it. Write
// always writes an uncompressed tar and ignores it.
func WithCompression(c layer.Compression) Option {
	return func(o *options) { o.compression = c }
}

// WithSourceDateEpoch clamps every modification time later than t to t, as
// GNU tar --clamp-mtime does, so that rebuilding the same thing at a later
// time yields the same bytes.
func WithSourceDateEpoch(t time.Time) Option {
	return func(o *options) { o.epoch = &t }
}

// WithPrevious has a gzip blob take the members it shares with prev, an
// earlier gzip blob at the same level, from prev's bytes rather than
// compress them again: the output is the same as without it. Each copied
// member's bytes are checked against prev's member table; a member that
// does not match is compressed.
func WithPrevious(prev *Previous) Option {
	return func(o *options) { o.previous = prev }
}

// WithMembers hands fn the member table of a gzip blob, once it is
// written: what a later WithPrevious needs.
func WithMembers(fn func([]Member)) Option {
	return func(o *options) { o.members = fn }
}

// ContentDigest is the sha256 of a regular file's content, hashed as the
// file was read into a layer (Write) or written out of one (Extract), with
// what fstat said of the file then.
type ContentDigest = fswrite.ContentDigest

// WithContentDigests hands fn the ContentDigest of every regular file whose
// content Write puts into the layer, hashed as it is read: for a caller
// that keeps the tree it diffed (a seal of it) and need not read it again.
// A file whose stat changed while it was read is left out.
func WithContentDigests(fn func(ContentDigest)) Option {
	return func(o *options) { o.digests = fn }
}

// ExtractOption configures Extract and ExtractBlob.
type ExtractOption func(*extractOptions)

type extractOptions struct {
	parents *overlay.Stack
	skip    func(p string)
	digests func(ContentDigest)
}

// ExtractingDigests hands fn the ContentDigest of every regular file
// Extract writes, hashed as it is written, with its stat once its
// metadata is set: for a caller that seals the tree and need not read it
// again.
func ExtractingDigests(fn func(ContentDigest)) ExtractOption {
	return func(o *extractOptions) { o.digests = fn }
}

// SkippingDevices makes Extract leave out the device nodes of the layer
// (not its whiteouts), reporting each to skipped: in a user namespace
// none can be made, and rootless containerd leaves them out too.
func SkippingDevices(skipped func(p string)) ExtractOption {
	return func(o *extractOptions) { o.skip = skipped }
}

// WithParents gives the layers below the one being extracted. Extract looks
// there for hard-link targets that are not in the layer itself (it copies the
// file in, since a link cannot cross layers) and for the metadata of parent
// directories the tar does not list.
func WithParents(lower *overlay.Stack) ExtractOption {
	return func(o *extractOptions) { o.parents = lower }
}
