package varenc

import (
	"reflect"
	"testing"

	"github.com/mybuild/mybuild/internal/xattr"
)

func sample() []byte {
	b := AppendUvarint(nil, 1<<40)
	b = AppendVarint(b, -3)
	b = AppendBool(b, true)
	b = AppendString(b, "path/to")
	return AppendXattrs(b, []xattr.Attr{{Name: "user.a", Value: []byte{0, 1}}, {Name: "user.empty", Value: []byte{}}})
}

// What the Append functions write reads back as it was.
func TestRoundTrip(t *testing.T) {
	d := NewDecoder(sample())
	u, v, ok, s, xs := d.Uvarint(), d.Varint(), d.Bool(), d.ReadString(), d.Xattrs()
	if !d.Done() || u != 1<<40 || v != -3 || !ok || s != "path/to" ||
		!reflect.DeepEqual(xs, []xattr.Attr{{Name: "user.a", Value: []byte{0, 1}}, {Name: "user.empty", Value: []byte{}}}) {
		t.Errorf("read %d %d %v %q %v, done %v", u, v, ok, s, xs, d.Done())
	}
}

// readSample reads what sample wrote, and says whether d is Done.
func readSample(data []byte) bool {
	d := NewDecoder(data)
	d.Uvarint()
	d.Varint()
	d.Bool()
	d.ReadString()
	d.Xattrs()
	return d.Done()
}

// Anything cut short, or with a byte too many, is not Done, and reads
// no further than it can.
func TestDamage(t *testing.T) {
	data := sample()
	for n := range len(data) {
		if readSample(data[:n]) {
			t.Fatalf("cut at %d of %d bytes: Done", n, len(data))
		}
	}
	if readSample(append(sample(), 0)) {
		t.Error("a byte too many: Done")
	}
	if !readSample(sample()) {
		t.Error("the whole sample: not Done")
	}
}

// A count larger than the bytes left can hold fails, rather than asking
// for the room.
func TestCountBound(t *testing.T) {
	d := NewDecoder(append(AppendUvarint(nil, 100), make([]byte, 1000)...))
	if n := d.Count(15); n != 0 || d.Done() {
		t.Errorf("Count(15) of 100 in 1,000 bytes = %d", n)
	}
	d = NewDecoder(append(AppendUvarint(nil, 66), make([]byte, 1000)...))
	if n := d.Count(15); n != 66 {
		t.Errorf("Count(15) of 66 in 1,000 bytes = %d", n)
	}
}
