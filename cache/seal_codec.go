package cache

import (
	"bytes"
	"errors"

	"github.com/mybuild/mybuild/internal/varenc"
	digest "github.com/opencontainers/go-digest"
)

// sealMagic begins a seal file, before its version: the rest is the
// seal's fields in order, integers as varints and strings as a length
// and their bytes. A build reads a seal for every cached layer below the
// first step it runs: this format reads back in a fraction of the time
// encoding/gob takes, which compiles a decoder for each file.
const sealMagic = "mybuild-seal\n"

// errSealFormat reports a seal file that is not one this build reads.
var errSealFormat = errors.New("not a seal")

// marshalSeal encodes sl.
func marshalSeal(sl *seal) []byte {
	b := varenc.AppendUvarint([]byte(sealMagic), uint64(sl.Version))
	b = varenc.AppendVarint(b, sl.Start)
	b = varenc.AppendBool(b, sl.Userns)
	b = varenc.AppendUvarint(b, uint64(len(sl.Entries)))
	for i := range sl.Entries {
		e := &sl.Entries[i]
		b = varenc.AppendString(b, e.Path)
		b = varenc.AppendUvarint(b, uint64(e.Mode))
		b = varenc.AppendUvarint(b, uint64(e.UID))
		b = varenc.AppendUvarint(b, uint64(e.GID))
		b = varenc.AppendVarint(b, e.Size)
		b = varenc.AppendUvarint(b, e.Rdev)
		b = varenc.AppendString(b, e.Link)
		b = varenc.AppendString(b, e.HardLink)
		b = varenc.AppendString(b, string(e.Digest))
		b = varenc.AppendXattrs(b, e.Xattrs)
		b = varenc.AppendUvarint(b, e.Ino)
		b = varenc.AppendUvarint(b, e.Nlink)
		b = varenc.AppendVarint(b, e.Mtime)
		b = varenc.AppendVarint(b, e.Ctime)
	}
	return b
}

// minEntryBytes is the least an entry takes: a byte for each of its
// fields, its path at least "/".
const minEntryBytes = 15

// unmarshalSeal decodes what marshalSeal encoded; errSealFormat for
// anything else, or anything cut short.
func unmarshalSeal(data []byte) (*seal, error) {
	rest, ok := bytes.CutPrefix(data, []byte(sealMagic))
	if !ok {
		return nil, errSealFormat
	}
	d := varenc.NewDecoder(rest)
	sl := &seal{Version: int(d.Uvarint()), Start: d.Varint(), Userns: d.Bool()}
	sl.Entries = make([]sealEntry, d.Count(minEntryBytes))
	for i := range sl.Entries {
		e := &sl.Entries[i]
		e.Path = d.ReadString()
		e.Mode = uint32(d.Uvarint())
		e.UID = uint32(d.Uvarint())
		e.GID = uint32(d.Uvarint())
		e.Size = d.Varint()
		e.Rdev = d.Uvarint()
		e.Link = d.ReadString()
		e.HardLink = d.ReadString()
		e.Digest = digest.Digest(d.ReadString())
		e.Xattrs = d.Xattrs()
		e.Ino = d.Uvarint()
		e.Nlink = d.Uvarint()
		e.Mtime = d.Varint()
		e.Ctime = d.Varint()
	}
	if !d.Done() {
		return nil, errSealFormat
	}
	return sl, nil
}
