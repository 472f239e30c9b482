package layerdiff

import "sync"

// bufSize is the size of the buffers file data is copied through. Memory use
// does not depend on the size of a layer or of its files.
const bufSize = 128 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufSize)
	return &b
}}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// zeros is never written to: it is the source of the bytes of holes.
var zeros [bufSize]byte
