package cache

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/mybuild/mybuild/internal/xattr"
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
	b := binary.AppendUvarint([]byte(sealMagic), uint64(sl.Version))
	b = binary.AppendVarint(b, sl.Start)
	b = appendBool(b, sl.Userns)
	b = binary.AppendUvarint(b, uint64(len(sl.Entries)))
	for i := range sl.Entries {
		e := &sl.Entries[i]
		b = appendString(b, e.Path)
		b = binary.AppendUvarint(b, uint64(e.Mode))
		b = binary.AppendUvarint(b, uint64(e.UID))
		b = binary.AppendUvarint(b, uint64(e.GID))
		b = binary.AppendVarint(b, e.Size)
		b = binary.AppendUvarint(b, e.Rdev)
		b = appendString(b, e.Link)
		b = appendString(b, e.HardLink)
		b = appendString(b, string(e.Digest))
		b = binary.AppendUvarint(b, uint64(len(e.Xattrs)))
		for _, x := range e.Xattrs {
			b = appendString(b, x.Name)
			b = appendString(b, string(x.Value))
		}
		b = binary.AppendUvarint(b, e.Ino)
		b = binary.AppendUvarint(b, e.Nlink)
		b = binary.AppendVarint(b, e.Mtime)
		b = binary.AppendVarint(b, e.Ctime)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// unmarshalSeal decodes what marshalSeal encoded; errSealFormat for
// anything else, or anything cut short.
func unmarshalSeal(data []byte) (*seal, error) {
	rest, ok := bytes.CutPrefix(data, []byte(sealMagic))
	if !ok {
		return nil, errSealFormat
	}
	d := sealDecoder{b: rest}
	sl := &seal{Version: int(d.uvarint()), Start: d.varint(), Userns: d.bool()}
	n := d.count(minEntryBytes)
	sl.Entries = make([]sealEntry, n)
	for i := range sl.Entries {
		e := &sl.Entries[i]
		e.Path = d.string()
		e.Mode = uint32(d.uvarint())
		e.UID = uint32(d.uvarint())
		e.GID = uint32(d.uvarint())
		e.Size = d.varint()
		e.Rdev = d.uvarint()
		e.Link = d.string()
		e.HardLink = d.string()
		e.Digest = digest.Digest(d.string())
		if nx := d.count(2); nx > 0 {
			e.Xattrs = make([]xattr.Attr, nx)
			for j := range e.Xattrs {
				e.Xattrs[j] = xattr.Attr{Name: d.string(), Value: []byte(d.string())}
			}
		}
		e.Ino = d.uvarint()
		e.Nlink = d.uvarint()
		e.Mtime = d.varint()
		e.Ctime = d.varint()
	}
	if d.bad || len(d.b) != 0 {
		return nil, errSealFormat
	}
	return sl, nil
}

// sealDecoder reads the fields of a seal in order; bad is set once one
// cannot be read, and every read after that gives zero.
type sealDecoder struct {
	b   []byte
	bad bool
}

func (d *sealDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *sealDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *sealDecoder) bool() bool {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.bad, d.b = true, nil
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

// minEntryBytes is the least an entry takes: a byte for each of its
// fields, its path at least "/".
const minEntryBytes = 15

// count is a number of items to come, each of at least size bytes: more
// than the bytes left can hold is damage, not an allocation to make.
func (d *sealDecoder) count(size int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/size) {
		d.bad, d.b = true, nil
		return 0
	}
	return int(n)
}

func (d *sealDecoder) string() string {
	n := d.count(1)
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
