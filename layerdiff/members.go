package layerdiff

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/mybuild/mybuild/layer"
)

// A gzip layer is a series of gzip members (RFC 1952, section 2.2), each
// the compression of a piece of the tar on its own, at cuts the tar's
// entries decide: before an entry whose name hashes to a multiple of
// memberEvery, and within a piece that reaches maxMember. A cut thus
// depends on the entries around it, never on where the stream stands:
// the pieces of a layer that differs from an earlier one by a file are
// the earlier layer's but around that file, and an edited COPY takes
// their compressed bytes from the earlier blob instead of compressing
// them again (see WithPrevious). Every gzip reader reads the members back
// to back; the output depends on the tar, the level and the deflate code
// only (a member table names its encoder, see encoder).
const (
	memberEvery = 64
	maxMember   = 4 << 20
)

// Member is one gzip member of a layer blob: the sizes and sha256s of the
// piece of tar it holds and of its compressed bytes. A blob's members,
// in order, are its member table.
type Member struct {
	Size, CompressedSize     int64
	Digest, CompressedDigest [sha256.Size]byte
}

// encoder names what compresses members at level: the digest of a fixed
// sample compressed as a member is. A copied member is the bytes a fresh
// compression gives only when the same deflate code, at the same level,
// made it; a table made by another (a mybuild built with another
// klauspost/compress) names another encoder, and is refused.
func encoder(level int) string {
	if e, ok := encoders.Load(level); ok {
		return e.(string)
	}
	sample := bytes.Repeat([]byte("mybuild gzip member sample 0123456789 abcdefghijklmnop\n"), 1200)
	for i := range sample {
		sample[i] ^= byte(i * 7 % 13) // less regular than a repeat
	}
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		return ""
	}
	zw.ModTime = time.Unix(0, 0)
	zw.Write(sample)
	zw.Close()
	e := fmt.Sprintf("mybuild-gzip-members/1 level %d encoder %x", level, sha256.Sum256(b.Bytes()))
	encoders.Store(level, e)
	return e
}

var encoders sync.Map // level -> encoder's name

// errNoEncoder: no gzip writer at the level.
var errNoEncoder = errors.New("member table: no gzip encoder at this level")

// gzipLevel is the gzip level c compresses at: 0 is the default.
func gzipLevel(c layer.Compression) int {
	if c.Level == 0 {
		return gzip.DefaultCompression
	}
	return c.Level
}

// MarshalMembers is the text of a member table of members compressed as
// c says: a line naming the encoder, then a line per member.
func MarshalMembers(c layer.Compression, ms []Member) ([]byte, error) {
	level := gzipLevel(c)
	if encoder(level) == "" {
		return nil, errNoEncoder
	}
	var b bytes.Buffer
	fmt.Fprintln(&b, encoder(level))
	for _, m := range ms {
		fmt.Fprintf(&b, "%d %x %d %x\n", m.Size, m.Digest, m.CompressedSize, m.CompressedDigest)
	}
	return b.Bytes(), nil
}

// UnmarshalMembers reads what MarshalMembers wrote, of this binary's
// encoder at c's level; sizes no member can have make it an error, as damage.
func UnmarshalMembers(c layer.Compression, data []byte) ([]Member, error) {
	level := gzipLevel(c)
	head, body, _ := bytes.Cut(data, []byte("\n"))
	if encoder(level) == "" {
		return nil, errNoEncoder
	}
	if string(head) != encoder(level) {
		return nil, fmt.Errorf("member table of another encoder (%.80s)", head)
	}
	var ms []Member
	for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m Member
		var d, cd []byte
		if _, err := fmt.Sscanf(string(line), "%d %x %d %x", &m.Size, &d, &m.CompressedSize, &cd); err != nil {
			return nil, fmt.Errorf("member table: %w", err)
		}
		if len(d) != sha256.Size || len(cd) != sha256.Size || m.Size < 0 || m.Size > maxMember ||
			m.CompressedSize < 0 || m.CompressedSize > maxCompressed(m.Size) {
			return nil, errors.New("member table: bad line")
		}
		copy(m.Digest[:], d)
		copy(m.CompressedDigest[:], cd)
		ms = append(ms, m)
	}
	return ms, nil
}

// maxCompressed bounds the gzip member of size bytes: deflate's stored
// blocks add 5 bytes to each 64 KiB, the header and trailer 18 in all.
func maxCompressed(size int64) int64 { return size + 5*(size/65535+1) + 64 }

// Previous is an earlier gzip blob, at the same level, and its member
// table: a member whose piece of tar comes again is copied from it.
type Previous struct {
	Members []Member
	Blob    io.ReaderAt
}

// memberWriter compresses a tar stream into gzip members, on every CPU.
type memberWriter struct {
	w     io.Writer
	level int
	prev  map[[sha256.Size]byte]prevMember
	blob  io.ReaderAt

	// table: the member table is wanted (WithMembers), so each member's
	// digests are taken; without it, only a piece that may be copied from
	// prev is hashed.
	table bool

	cuts tarCuts
	buf  []byte
	zws  *sync.Pool // gzip writers at level (gzipWriters)

	// pending holds, in order, the members being compressed; writeOut
	// writes each one out as it is ready.
	pending  chan chan compressed
	done     chan struct{}
	members  []Member
	mu       sync.Mutex
	err      error // writeOut's first error
	cutN     int
	closed   bool
	closeErr error // what Close returned
}

type prevMember struct {
	off int64
	m   Member
}

type compressed struct {
	data []byte
	m    Member
	err  error
}

func newMemberWriter(w io.Writer, level int, prev *Previous, table bool) *memberWriter {
	mw := &memberWriter{w: w, level: level, table: table, zws: gzipWriters(level),
		pending: make(chan chan compressed, runtime.GOMAXPROCS(0)), done: make(chan struct{})}
	if prev != nil {
		mw.blob = prev.Blob
		mw.prev = make(map[[sha256.Size]byte]prevMember, len(prev.Members))
		var off int64
		for _, m := range prev.Members {
			mw.prev[m.Digest] = prevMember{off, m}
			off += m.CompressedSize
		}
	}
	go mw.writeOut()
	return mw
}

func (mw *memberWriter) Write(p []byte) (int, error) {
	n := len(p)
	c := &mw.cuts
	for len(p) > 0 {
		if mw.failed() {
			return 0, fmt.Errorf("gzip: %w", mw.err)
		}
		if c.lost || c.skip > 0 {
			take := len(p)
			if !c.lost {
				take = int(min(int64(take), c.skip))
				c.skip -= int64(take)
			}
			mw.append(p[:take])
			p = p[take:]
			continue
		}
		// A header is collected whole before it is appended, so that the
		// cut before it can be decided from its name.
		k := copy(c.hdr[c.hdrN:], p)
		c.hdrN += k
		p = p[k:]
		if c.hdrN == blockSize {
			if c.header(c.hdr[:]) && len(mw.buf) > 0 {
				mw.cut()
			}
			mw.append(c.hdr[:])
			c.hdrN = 0
		}
	}
	return n, nil
}

// append adds b to the member, cutting it wherever it reaches maxMember.
func (mw *memberWriter) append(b []byte) {
	for len(b) > 0 {
		if mw.buf == nil {
			mw.buf = (*memberBufs.Get().(*[]byte))[:0]
		}
		room := maxMember - len(mw.buf)
		if room == 0 {
			mw.cut()
			continue
		}
		k := min(room, len(b))
		mw.buf = append(mw.buf, b[:k]...)
		b = b[k:]
	}
}

// failed tells whether writing out failed: what comes next is not
// compressed for nothing.
func (mw *memberWriter) failed() bool {
	mw.mu.Lock()
	defer mw.mu.Unlock()
	return mw.err != nil
}

func (mw *memberWriter) fail(err error) {
	mw.mu.Lock()
	defer mw.mu.Unlock()
	if mw.err == nil {
		mw.err = err
	}
}

// cut ends the member buffered so far, and hands it to a goroutine of its
// own; pending keeps the order.
func (mw *memberWriter) cut() {
	data := mw.buf
	mw.buf = nil
	mw.cutN++
	res := make(chan compressed, 1)
	mw.pending <- res
	go func() {
		res <- mw.compress(data)
		if cap(data) == maxMember {
			memberBufs.Put(&data)
		}
	}()
}

// compress is one member: its bytes from the earlier blob when they are
// there and whole, else compressed.
func (mw *memberWriter) compress(data []byte) compressed {
	m := Member{Size: int64(len(data))}
	if mw.table || mw.prev != nil {
		m.Digest = sha256.Sum256(data)
	}
	if p, ok := mw.prev[m.Digest]; ok && p.m.Size == m.Size {
		out := make([]byte, p.m.CompressedSize)
		if _, err := mw.blob.ReadAt(out, p.off); err == nil && sha256.Sum256(out) == p.m.CompressedDigest {
			m.CompressedSize, m.CompressedDigest = p.m.CompressedSize, p.m.CompressedDigest
			return compressed{data: out, m: m}
		}
		// A damaged earlier blob: compress, as if it had not been there.
	}
	b := bytes.NewBuffer(make([]byte, 0, len(data)/3+1024))
	zw := mw.gzipWriter()
	defer mw.zws.Put(zw)
	zw.Reset(b)
	// Explicitly: the zero time.Time is written as a nonzero MTIME.
	zw.ModTime = time.Unix(0, 0)
	if _, err := zw.Write(data); err != nil {
		return compressed{err: err}
	}
	if err := zw.Close(); err != nil {
		return compressed{err: err}
	}
	out := b.Bytes()
	m.CompressedSize = int64(len(out))
	if mw.table {
		m.CompressedDigest = sha256.Sum256(out)
	}
	return compressed{data: out, m: m}
}

// gzipWriter is a gzip writer at the level, from those used before.
func (mw *memberWriter) gzipWriter() *gzip.Writer {
	if zw, ok := mw.zws.Get().(*gzip.Writer); ok {
		return zw
	}
	zw, _ := gzip.NewWriterLevel(nil, mw.level) // checked by compressor
	return zw
}

// memberBufs are the pieces of tar members are cut from, maxMember each,
// and gzipWriters the gzip writers of each level, each holding about a
// megabyte of tables: both are shared by every layer a process writes,
// since a layer of a few bytes, as a RUN step makes, would otherwise
// allocate and clear five megabytes for itself.
var (
	memberBufs  = sync.Pool{New: func() any { b := make([]byte, 0, maxMember); return &b }}
	gzipPools   sync.Map // level -> *sync.Pool of *gzip.Writer
	gzipChecked sync.Map // level -> error of gzip.NewWriterLevel
)

func gzipWriters(level int) *sync.Pool {
	p, _ := gzipPools.LoadOrStore(level, &sync.Pool{})
	return p.(*sync.Pool)
}

// checkGzipLevel is gzip.NewWriterLevel's error for level, found once.
func checkGzipLevel(level int) error {
	if err, ok := gzipChecked.Load(level); ok {
		e, _ := err.(error)
		return e
	}
	zw, err := gzip.NewWriterLevel(io.Discard, level)
	if err == nil {
		gzipWriters(level).Put(zw)
	}
	gzipChecked.Store(level, err)
	return err
}

// writeOut writes the members in order, until Close closes pending.
func (mw *memberWriter) writeOut() {
	defer close(mw.done)
	for res := range mw.pending {
		c := <-res
		if mw.failed() {
			continue // drain
		}
		if c.err != nil {
			mw.fail(c.err)
			continue
		}
		if _, err := mw.w.Write(c.data); err != nil {
			mw.fail(err)
			continue
		}
		mw.members = append(mw.members, c.m)
	}
}

// Close ends the last member (an empty stream still gets one, as a gzip
// stream has at least one) and waits for every member to be written.
func (mw *memberWriter) Close() error {
	if mw.closed {
		return mw.closeErr
	}
	mw.closed = true
	if mw.cuts.hdrN > 0 { // not a whole header: the stream's last bytes
		mw.append(mw.cuts.hdr[:mw.cuts.hdrN])
	}
	if len(mw.buf) > 0 || mw.cutN == 0 {
		mw.cut()
	}
	close(mw.pending)
	<-mw.done
	if mw.err != nil {
		mw.closeErr = fmt.Errorf("gzip: %w", mw.err)
	}
	return mw.closeErr
}

// Members is the member table of what was written, once Close succeeded.
func (mw *memberWriter) Members() []Member { return mw.members }

// tarCuts finds, in a tar stream written to it piece by piece, where
// members are cut: it follows the stream's headers and data, and says at
// which entries to cut (see memberEvery) and where a member grows to
// maxMember. A stream it cannot follow (not a tar) is cut at maxMember
// only: the cuts still depend on the bytes alone.
type tarCuts struct {
	hdr  [blockSize]byte
	hdrN int
	// skip is what is left of the current entry's data, padding included.
	skip int64
	// chained: the last header was an extension (PAX, GNU long name) of
	// the entry that follows, which is not cut from it.
	chained bool
	lost    bool
}

const blockSize = 512

// header reads a whole header block: the size of the data after it, and
// whether a member is cut before it.
func (c *tarCuts) header(b []byte) (cut bool) {
	if isZero(b) {
		c.chained = false
		return false // the end of the archive
	}
	size, ok := parseSize(b[124:136])
	if !ok {
		c.lost = true
		return false
	}
	c.skip = (size + blockSize - 1) / blockSize * blockSize
	cut = !c.chained && cutBefore(headerName(b))
	switch b[156] {
	case 'x', 'L', 'K':
		c.chained = true
	default:
		c.chained = false
	}
	return cut
}

// cutBefore tells whether a member starts at the entry named name.
func cutBefore(name []byte) bool {
	h := fnv.New32a()
	h.Write(name)
	return h.Sum32()%memberEvery == 0
}

func headerName(b []byte) []byte {
	name := cstring(b[0:100])
	if string(b[257:262]) == "ustar" {
		if prefix := cstring(b[345:500]); len(prefix) > 0 {
			return append(append(append([]byte{}, prefix...), '/'), name...)
		}
	}
	return name
}

func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// parseSize reads a tar size field: octal, or base-256 when its first
// byte has the high bit set.
func parseSize(f []byte) (int64, bool) {
	if len(f) > 0 && f[0]&0x80 != 0 {
		var n int64
		for i, x := range f {
			if i == 0 {
				x &= 0x7f
			}
			if n > (1<<55)-1 {
				return 0, false
			}
			n = n<<8 | int64(x)
		}
		return n, true
	}
	f = bytes.Trim(f, " \x00")
	if len(f) == 0 {
		return 0, true
	}
	var n int64
	for _, x := range f {
		if x < '0' || x > '7' || n > (1<<60) {
			return 0, false
		}
		n = n<<3 | int64(x-'0')
	}
	return n, true
}
