package readprogress

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

func TestReports(t *testing.T) {
	var got []int64
	data := bytes.Repeat([]byte("x"), 2*step+5)
	r := New(iotest.OneByteReader(bytes.NewReader(data)), func(n int64) { got = append(got, n) })
	if b, err := io.ReadAll(r); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	if want := []int64{0, step, 2 * step, 2*step + 5}; !slices.Equal(got, want) {
		t.Errorf("reports %v, want %v", got, want)
	}
}
