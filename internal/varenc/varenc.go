// Package varenc encodes records as varints and length-prefixed strings, and reads them back refusing anything cut short or damaged.
package varenc

import (
	"encoding/binary"

	"github.com/mybuild/mybuild/internal/xattr"
)

// AppendUvarint appends v.
func AppendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// AppendVarint appends v.
func AppendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// AppendString appends s, its length first.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendBool appends v as one byte.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendXattrs appends xs, their number first.
func AppendXattrs(b []byte, xs []xattr.Attr) []byte {
	b = binary.AppendUvarint(b, uint64(len(xs)))
	for _, x := range xs {
		b = AppendString(b, x.Name)
		b = AppendString(b, string(x.Value))
	}
	return b
}

// Decoder reads back, in order, what the Append functions wrote. Once a
// read fails, every read after it gives zero, and Done is false.
type Decoder struct {
	b   []byte
	bad bool
}

// NewDecoder reads data.
func NewDecoder(data []byte) *Decoder { return &Decoder{b: data} }

// Done reports whether every read succeeded and nothing is left.
func (d *Decoder) Done() bool { return !d.bad && len(d.b) == 0 }

func (d *Decoder) fail() {
	d.bad, d.b = true, nil
}

// Uvarint reads what AppendUvarint wrote.
func (d *Decoder) Uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads what AppendVarint wrote.
func (d *Decoder) Varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Bool reads what AppendBool wrote.
func (d *Decoder) Bool() bool {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

// Count reads a number of items to come, each of at least size bytes:
// more than the bytes left can hold is damage, not an allocation to make.
func (d *Decoder) Count(size int) int {
	n := d.Uvarint()
	if n > uint64(len(d.b)/size) {
		d.fail()
		return 0
	}
	return int(n)
}

// ReadString reads what AppendString wrote.
func (d *Decoder) ReadString() string {
	n := d.Count(1)
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Xattrs reads what AppendXattrs wrote; nil for none.
func (d *Decoder) Xattrs() []xattr.Attr {
	n := d.Count(2)
	if n == 0 {
		return nil
	}
	xs := make([]xattr.Attr, n)
	for i := range xs {
		xs[i] = xattr.Attr{Name: d.ReadString(), Value: []byte(d.ReadString())}
	}
	return xs
}
