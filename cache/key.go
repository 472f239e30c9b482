package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	digest "github.com/opencontainers/go-digest"
)

// keyVersion changes whenever the meaning of a key changes, so that old
// records can never be mistaken for new ones.
const keyVersion = "mybuild-step-key-v1"

// KeyBuilder computes a step key: sha256 over a framed encoding in which
// every name and value is prefixed by its length, so that no two different
// field lists give the same bytes ("a-b"+"c" versus "a"+"b-c").
type KeyBuilder struct {
	h hash.Hash
}

// NewKey starts a key for one kind of step ("run", "copy", ...).
func NewKey(kind string) *KeyBuilder {
	k := &KeyBuilder{h: sha256.New()}
	k.frame(keyVersion)
	k.frame(kind)
	return k
}

// String adds a named value.
func (k *KeyBuilder) String(name, value string) *KeyBuilder {
	k.frame(name)
	k.frame(value)
	return k
}

// Strings adds a named list, framed with its length.
func (k *KeyBuilder) Strings(name string, values []string) *KeyBuilder {
	k.frame(name)
	k.count(len(values))
	for _, v := range values {
		k.frame(v)
	}
	return k
}

// Bytes adds a named value given as bytes.
func (k *KeyBuilder) Bytes(name string, value []byte) *KeyBuilder {
	k.frame(name)
	k.count(len(value))
	k.h.Write(value)
	return k
}

// Sum returns the key.
func (k *KeyBuilder) Sum() digest.Digest {
	return digest.NewDigest(digest.SHA256, k.h)
}

func (k *KeyBuilder) frame(s string) {
	k.count(len(s))
	k.h.Write([]byte(s))
}

func (k *KeyBuilder) count(n int) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	k.h.Write(b[:])
}
