package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sort"

	digest "github.com/opencontainers/go-digest"
)

// keyVersion changes whenever the meaning of a key changes, so that old
// records can never be mistaken for new ones.
const keyVersion = "mybuild-step-key-v1"

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
}

// NewKey starts a key for one kind of step ("run", "copy", ...).
func NewKey(kind string) *KeyBuilder {
	k := &KeyBuilder{h: sha256.New(), fields: map[string]hash.Hash{}}
	k.frame(k.h, keyVersion)
	k.frame(k.h, kind)
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
	for _, h := range k.hashes(name) {
		k.frame(h, name)
		k.frame(h, value)
	}
	return k
}

// Strings adds a named list, framed with its length.
func (k *KeyBuilder) Strings(name string, values []string) *KeyBuilder {
	for _, h := range k.hashes(name) {
		k.frame(h, name)
		k.count(h, len(values))
		for _, v := range values {
			k.frame(h, v)
		}
	}
	return k
}

// Bytes adds a named value given as bytes.
func (k *KeyBuilder) Bytes(name string, value []byte) *KeyBuilder {
	for _, h := range k.hashes(name) {
		k.frame(h, name)
		k.count(h, len(value))
		h.Write(value)
	}
	return k
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

// hashes are the key's hash and the one of the field (or group).
func (k *KeyBuilder) hashes(name string) [2]hash.Hash {
	if k.group != "" {
		name = k.group
	}
	f, ok := k.fields[name]
	if !ok {
		f = sha256.New()
		k.fields[name] = f
	}
	return [2]hash.Hash{k.h, f}
}

func (k *KeyBuilder) frame(h hash.Hash, s string) {
	k.count(h, len(s))
	h.Write([]byte(s))
}

func (k *KeyBuilder) count(h hash.Hash, n int) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}
