package fswrite

import digest "github.com/opencontainers/go-digest"

// ContentDigest is the sha256 of a regular file's content, hashed as it
// was read or written in one pass, with what fstat said of the file after
// that pass: for a caller that keeps the tree (a seal of it) and need not
// read the file again while its stat stays the same.
type ContentDigest struct {
	Ino          uint64
	Size         int64
	Mtime, Ctime int64 // nanoseconds
	Digest       digest.Digest
}
