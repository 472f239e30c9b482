package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sort"

	digest "github.com/opencontainers/go-digest"
)

// keyVersion changes whenever the meaning of a key changes, or the bytes
// its record's blobs would have when made again (v2: gzip layers cut
// into members, layerdiff.TestGzipBytesArePinned), so that old records
// can never be mistaken for new ones.
const keyVersion = "mybuild-step-key-v2"

// KeyBuilder computes a step key: sha256 over a framed encoding in which
// every name and value is prefixed by its length, so that no two different
// field lists give the same bytes ("a-b"+"c" versus "a"+"b-c").
//
// It also keeps a digest per field name (or per group, see Group), which
// Fields returns: what a step record keeps of its inputs, so that a later
// miss can say which of them changed without storing their values.
type KeyBuilder struct {
	h      hash.Hash
	fields map[string]hash.Hash
	group  string
	buf    []byte // one field's framed bytes, written to both hashes at once
}

// NewKey starts a key for one kind of step ("run", "copy", ...).
func NewKey(kind string) *KeyBuilder {
	k := &KeyBuilder{h: sha256.New(), fields: map[string]hash.Hash{}}
	k.buf = frame(frame(k.buf, keyVersion), kind)
	k.h.Write(k.buf)
	return k
}

// NewSum starts a key, as NewKey, of which only Sum is wanted: it keeps
// no digest per field (Fields is empty), and so costs one hash, not one
// more per field. A build keys each context file of a COPY so, for the
// file list of its record. Sum is NewKey's for the same fields.
func NewSum(kind string) *KeyBuilder {
	k := &KeyBuilder{h: sha256.New()}
	k.buf = frame(frame(k.buf, keyVersion), kind)
	k.h.Write(k.buf)
	return k
}

// Group makes the fields added after it count, in Fields, as the one
// field name ("files" for every field of every copied file), until the
// next Group; "" ends it. It returns the group it replaces, so that a
// caller can put it back. The key itself is not changed.
func (k *KeyBuilder) Group(name string) (previous string) {
	previous, k.group = k.group, name
	return previous
}

// String adds a named value.
func (k *KeyBuilder) String(name, value string) *KeyBuilder {
	k.buf = frame(frame(k.buf[:0], name), value)
	return k.write(name)
}

// Strings adds a named list, framed with its length.
func (k *KeyBuilder) Strings(name string, values []string) *KeyBuilder {
	k.buf = count(frame(k.buf[:0], name), len(values))
	for _, v := range values {
		k.buf = frame(k.buf, v)
	}
	return k.write(name)
}

// Bytes adds a named value given as bytes.
func (k *KeyBuilder) Bytes(name string, value []byte) *KeyBuilder {
	k.buf = append(count(frame(k.buf[:0], name), len(value)), value...)
	return k.write(name)
}

// Sum returns the key.
func (k *KeyBuilder) Sum() digest.Digest {
	return digest.NewDigest(digest.SHA256, k.h)
}

// Fields returns a digest of each field name's values, in the order they
// were added (a group's fields under the group's name).
func (k *KeyBuilder) Fields() map[string]digest.Digest {
	out := make(map[string]digest.Digest, len(k.fields))
	for name, h := range k.fields {
		out[name] = digest.NewDigest(digest.SHA256, h)
	}
	return out
}

// FieldNames lists the names Fields has, sorted.
func FieldNames(fields map[string]digest.Digest) []string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// write adds the framed bytes in buf to the key, and to the digest of
// the field name (or of the group): one Write to each, since a hash's
// Write costs more per call than per byte for a field this small.
func (k *KeyBuilder) write(name string) *KeyBuilder {
	k.h.Write(k.buf)
	if k.fields == nil { // NewSum
		return k
	}
	if k.group != "" {
		name = k.group
	}
	f, ok := k.fields[name]
	if !ok {
		f = sha256.New()
		k.fields[name] = f
	}
	f.Write(k.buf)
	return k
}

// frame appends s to b, prefixed by its length.
func frame(b []byte, s string) []byte {
	return append(count(b, len(s)), s...)
}

// count appends n as 8 bytes, big-endian.
func count(b []byte, n int) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(n))
}
