package cache

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

func open(t *testing.T, root string) *Store {
	t.Helper()
	s, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBlobRoundTrip(t *testing.T) {
	s := open(t, t.TempDir())
	data := []byte("layer bytes")
	d := digest.FromBytes(data)
	if s.HasBlob(d, int64(len(data))) {
		t.Fatal("empty store has the blob")
	}
	if err := s.PutBlob(d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if !s.HasBlob(d, int64(len(data))) || s.HasBlob(d, 3) {
		t.Fatal("HasBlob does not check presence and size")
	}
	r, size, err := s.OpenBlob(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) || size != int64(len(data)) {
		t.Fatalf("read back %q, %d, %v", got, size, err)
	}
}

func TestPutBlobRejectsWrongContent(t *testing.T) {
	s := open(t, t.TempDir())
	d := digest.FromString("expected")
	err := s.PutBlob(d, 5, strings.NewReader("wrong"))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(s.BlobPath(d)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a blob with the wrong content was stored")
	}
	if entries, _ := os.ReadDir(s.tmp); len(entries) != 0 {
		t.Fatalf("temp files left: %v", entries)
	}
}

func TestCorruptBlobIsDetectedAndDropped(t *testing.T) {
	s := open(t, t.TempDir())
	data := []byte("original content")
	d := digest.FromBytes(data)
	if err := s.PutBlob(d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// Same size, different bytes: only the digest can tell.
	overwriteAndRead(t, s, d, "0riginal content")
	if s.HasBlob(d, int64(len(data))) {
		t.Fatal("corrupt blob kept")
	}
}

// overwriteAndRead writes content over the blob d, then reads it whole
// and wants ErrCorrupt.
func overwriteAndRead(t *testing.T, s *Store, d digest.Digest, content string) {
	t.Helper()
	if err := os.WriteFile(s.BlobPath(d), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _, err := s.OpenBlob(d)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, r)
	r.Close()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestStepRecords(t *testing.T) {
	s := open(t, t.TempDir())
	key := NewKey("run").String("cmd", "true").Sum()
	if _, err := s.Step(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	blob := []byte("blob")
	bd := digest.FromBytes(blob)
	if err := s.PutBlob(bd, 4, bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	rec := &Record{Key: key, CreatedBy: "RUN true", Created: time.Now().UTC().Truncate(time.Second),
		Layer: &layer.Layer{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: bd, DiffID: digest.FromString("x"), Size: 4}}
	if err := s.PutStep(rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Step(key)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedBy != rec.CreatedBy || *got.Layer != *rec.Layer || !got.Created.Equal(rec.Created) || got.LastUsed.IsZero() {
		t.Fatalf("got %+v", got)
	}
	// A record whose blob is gone is not a hit.
	os.Remove(s.BlobPath(bd))
	if _, err := s.Step(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record without its blob: err = %v", err)
	}
}

func TestTruncatedRecordIsDropped(t *testing.T) {
	s := open(t, t.TempDir())
	key := NewKey("env").Sum()
	if err := s.PutStep(&Record{Key: key, CreatedBy: "ENV A=b"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(s.stepPath(key))
	os.WriteFile(s.stepPath(key), data[:len(data)/2], 0o600)
	if _, err := s.Step(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(s.stepPath(key)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("truncated record kept")
	}
}

func TestCommitLayerRace(t *testing.T) {
	s := open(t, t.TempDir())
	diffID := digest.FromString("layer")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir, err := s.TempDir("layer-")
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
			}
			if err == nil {
				_, err = s.CommitLayer(dir, diffID)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !s.HasLayer(diffID) {
		t.Fatal("layer missing")
	}
	if entries, _ := os.ReadDir(s.tmp); len(entries) != 0 {
		t.Fatalf("losing copies not removed: %v", entries)
	}
}

func TestLockStepSerialises(t *testing.T) {
	root := t.TempDir()
	a, b := open(t, root), open(t, root)
	key := NewKey("run").Sum()
	unlock, err := a.LockStep(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.LockStep(ctx, key); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock: err = %v, want a timeout", err)
	}
	unlock()
	unlock2, err := b.LockStep(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}

// A record that MakeStepLater made is stored, its key locked until then:
// another build that misses the same key meanwhile waits, and takes it.
func TestMakeStepLater(t *testing.T) {
	root := t.TempDir()
	a, b := open(t, root), open(t, root)
	key := NewKey("run later").Sum()
	rec, made, stored, err := a.MakeStepLater(context.Background(), key, false, func() (*Record, error) {
		return &Record{Key: key, CreatedBy: "RUN true"}, nil
	})
	if err != nil || !made {
		t.Fatalf("made %v, err %v", made, err)
	}
	other, otherMade, err := b.MakeStep(context.Background(), key, false, func() (*Record, error) {
		return &Record{Key: key, CreatedBy: "RUN other"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if otherMade || other.CreatedBy != rec.CreatedBy {
		t.Errorf("the other build made %v a record of %q, want the first one's", otherMade, other.CreatedBy)
	}
	if err := stored(); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Step(key); err != nil || got.CreatedBy != "RUN true" {
		t.Errorf("Step = %v, %v", got, err)
	}
}

// LockBlob excludes a second holder, in the same Store (two builders of
// one build) as in another (another build), until the first unlocks.
func TestLockBlobSerialises(t *testing.T) {
	root := t.TempDir()
	a, b := open(t, root), open(t, root)
	d := digest.FromString("blob")
	unlock, err := a.LockBlob(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Store{"same store": a, "other store": b} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if _, err := s.LockBlob(ctx, d); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: second lock: err = %v, want a timeout", name, err)
		}
		cancel()
	}
	unlock()
	unlock2, err := b.LockBlob(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
	if _, err := a.LockBlob(context.Background(), "sha512:x"); err == nil {
		t.Error("LockBlob of an unsupported digest: no error")
	}
}

func countDirs(t *testing.T, dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			n++
		}
	}
	return n
}

// A reader that fails early (a decompressor) learns whether the blob is
// to blame, and a damaged blob is dropped: layer.Decompress reads the
// rest of the blob when it fails.
func TestDamaged(t *testing.T) {
	s := open(t, t.TempDir())
	put := func(data []byte) digest.Digest {
		d := digest.FromBytes(data)
		if err := s.PutBlob(d, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	readAll := func(d digest.Digest) error {
		r, _, err := s.OpenBlob(d)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		zr, err := layer.Decompress(t.Context(), r, "application/vnd.oci.image.layer.v1.tar+gzip")
		if err != nil {
			return err
		}
		defer zr.Close()
		_, err = io.Copy(io.Discard, zr)
		return err
	}

	// Intact, but not gzip: the decompressor's error stands.
	bad := put(append([]byte{0x1f, 0x8b, 8, 0}, bytes.Repeat([]byte("not deflate"), 1000)...))
	if err := readAll(bad); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("intact blob: %v, want a gzip error", err)
	}
	if _, err := os.Stat(s.BlobPath(bad)); err != nil {
		t.Error("an intact blob was dropped")
	}

	// Damaged: the blob is to blame.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(data)
	zw.Write(data)
	zw.Close()
	d := put(gz.Bytes())
	damaged := bytes.Clone(gz.Bytes())
	damaged[len(damaged)/3] ^= 0xff
	os.WriteFile(s.BlobPath(d), damaged, 0o600)
	if err := readAll(d); !errors.Is(err, ErrCorrupt) {
		t.Errorf("damaged blob: %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(s.BlobPath(d)); !errors.Is(err, os.ErrNotExist) {
		t.Error("damaged blob kept")
	}
}

// setImmutable sets or clears the immutable flag: chattr [+-]i path.
func setImmutable(path string, on bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if on {
		flags |= fsImmutableFL
	} else {
		flags &^= fsImmutableFL
	}
	return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
}

const fsImmutableFL = 0x10 // FS_IMMUTABLE_FL, linux/fs.h

// A layer committed while another build's copy is already in place, even
// an empty one, leaves that copy alone: rename(2) would replace an empty
// directory, which the other build may be using.
func TestCommitLayerKeepsEmptyWinner(t *testing.T) {
	s := open(t, t.TempDir())
	diffID := digest.FromString("empty layer")
	if err := os.Mkdir(s.LayerPath(diffID), 0o755); err != nil {
		t.Fatal(err)
	}
	// A winner is sealed (one without a seal is replaced).
	if err := s.sealLayer(diffID, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(s.LayerPath(diffID))
	dir, _ := s.TempDir("layer-")
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	got, err := s.CommitLayer(dir, diffID)
	if err != nil || got != s.LayerPath(diffID) {
		t.Fatalf("commit: %s, %v", got, err)
	}
	after, _ := os.Stat(got)
	if !os.SameFile(before, after) {
		t.Error("the layer already in place was replaced")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Error("the losing copy was not removed")
	}
}

// Opening a blob writes nothing: prune goes by the step records' times.
func TestOpenBlobWritesNothing(t *testing.T) {
	s := open(t, t.TempDir())
	data := []byte("blob")
	d := digest.FromBytes(data)
	if err := s.PutBlob(d, 4, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(s.BlobPath(d), old, old)
	r, _, err := s.OpenBlob(d)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if fi, err := os.Stat(s.BlobPath(d)); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("blob mtime %v, %v; want it untouched", fi.ModTime(), err)
	}
}

// A blob read whole once is sealed: it is not hashed again until a
// write moves its stat data.
func TestBlobSeal(t *testing.T) {
	s := open(t, t.TempDir())
	data := []byte("original content")
	d := digest.FromBytes(data)
	if err := s.PutBlob(d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	hashed := func() bool {
		t.Helper()
		r, _, err := s.OpenBlob(d)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, verifying := r.(*verifyingReader)
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %q, %v", got, err)
		}
		return verifying
	}
	// Sealed at commit, in the tick the blob was written in: not
	// trusted yet. Read whole, it is sealed again, a tick later.
	hashed()
	time.Sleep(20 * time.Millisecond)
	hashed()
	if hashed() {
		t.Fatal("a blob read whole before was hashed again")
	}
	time.Sleep(20 * time.Millisecond)
	overwriteAndRead(t, s, d, "0riginal content") // sealed, then written to
	if _, err := os.Stat(s.blobSealPath(d)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the seal of a blob found damaged is kept: %v", err)
	}
}

// putUnflushed writes data as a blob and moves it into place unflushed,
// as a step's layer is (BlobWriter.CommitUnflushed).
func putUnflushed(t *testing.T, s *Store, data []byte) {
	t.Helper()
	w, err := s.NewBlobWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.Write(data)
	if err := w.CommitUnflushed(digest.FromBytes(data)); err != nil {
		t.Fatal(err)
	}
}

// A step's blob is moved into place unflushed: nothing seals it, not
// even a read of all of it, until the flush that PutStep makes before it
// writes the record that refers to it.
func TestCommitUnflushedSealedByFlush(t *testing.T) {
	s := open(t, t.TempDir())
	data := []byte("a step's layer")
	d := digest.FromBytes(data)
	putUnflushed(t, s, data)
	sealed := func() bool {
		_, err := os.Stat(s.blobSealPath(d))
		return err == nil
	}
	r, _, err := s.OpenBlob(d)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %q, %v", got, err)
	}
	r.Close()
	if sealed() {
		t.Fatal("a blob not flushed yet was sealed when read whole")
	}
	key := NewKey("run").String("cmd", "true").Sum()
	rec := &Record{Key: key, CreatedBy: "RUN true", Created: time.Now().UTC(),
		Layer: &layer.Layer{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: d, DiffID: digest.FromString("x"), Size: int64(len(data))}}
	if err := s.PutStep(rec); err != nil {
		t.Fatal(err)
	}
	if !sealed() {
		t.Fatal("the blob is not sealed after the flush of its record")
	}
	if _, err := s.Step(key); err != nil {
		t.Fatalf("record: %v", err)
	}
	if s.isUnflushed(d) {
		t.Fatal("the blob still waits for a flush")
	}
}

// A blob moved into place unflushed was hashed as it was written: this
// store reads it back unhashed, while its stat data are those it had
// then, and hashes it once it was written to.
func TestCommitUnflushedReadUnhashed(t *testing.T) {
	s := open(t, t.TempDir())
	data := []byte("a step's layer")
	d := digest.FromBytes(data)
	putUnflushed(t, s, data)
	s.unflushedMu.Lock()
	u := s.unflushed[0]
	s.unflushedMu.Unlock()
	st, _ := statOfBlob(u.fi)
	r, _, err := s.OpenBlob(d)
	if err != nil {
		t.Fatal(err)
	}
	_, verifying := r.(*verifyingReader)
	r.Close()
	// Where the clock had not moved past its ctime (a coarse clock, in
	// the tick of the rename), a write since could not be told: hashed.
	if trusted := st.ctime < u.clock; verifying == trusted {
		t.Errorf("hashed %v, with its ctime %d and the clock %d after it", verifying, st.ctime, u.clock)
	}
	overwriteAndRead(t, s, d, "a step's lay3r")
}

// A scratch file holds what is written to it, and has no name in the
// scratch dir: nothing is left of it once closed.
func TestScratchFile(t *testing.T) {
	s := open(t, t.TempDir())
	f, err := s.ScratchFile()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("layer tar"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if data, err := io.ReadAll(f); err != nil || string(data) != "layer tar" {
		t.Fatalf("read back %q, %v", data, err)
	}
	entries, err := os.ReadDir(s.tmp)
	if err != nil || len(entries) != 0 {
		t.Errorf("the scratch dir holds %v, %v; want nothing", entries, err)
	}
}

// A use of a record is recorded when its last one is a minute old or
// more; a build that hits every step of a recent build writes nothing.
func TestUsedTouchesStaleRecordsOnly(t *testing.T) {
	s := open(t, t.TempDir())
	key := NewKey("env").Sum()
	if err := s.PutStep(&Record{Key: key, CreatedBy: "ENV A=b"}); err != nil {
		t.Fatal(err)
	}
	used := func(at time.Time) time.Time {
		t.Helper()
		if err := os.Chtimes(s.stepPath(key), at, at); err != nil {
			t.Fatal(err)
		}
		rec, err := s.Step(key)
		if err != nil {
			t.Fatal(err)
		}
		s.Used(rec)
		rec, err = s.Step(key)
		if err != nil {
			t.Fatal(err)
		}
		return rec.LastUsed
	}
	recent := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	if got := used(recent); !got.Equal(recent) {
		t.Errorf("a use 10 s after the last one moved it to %v", got)
	}
	stale := time.Now().Add(-2 * time.Minute)
	if got := used(stale); time.Since(got) > 5*time.Second {
		t.Errorf("a use 2 min after the last one left it at %v", got)
	}
}

// An unflushed copy of a blob in place already does not replace it (that
// one may be durable, and vouched for by its seal); a damaged one, of
// another size, it does.
func TestCommitUnflushedKeepsTheBlobInPlace(t *testing.T) {
	s := open(t, t.TempDir())
	data := []byte("the same layer, made twice")
	d := digest.FromBytes(data)
	if err := s.PutBlob(d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	inode := func() uint64 {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Stat(s.BlobPath(d), &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	commit := func() { t.Helper(); putUnflushed(t, s, data) }
	was := inode()
	commit()
	if inode() != was {
		t.Error("an unflushed copy replaced the blob in place")
	}
	if s.isUnflushed(d) {
		t.Error("the blob in place is listed as waiting for a flush")
	}
	if entries, _ := os.ReadDir(s.tmp); len(entries) != 0 {
		t.Errorf("left in the scratch dir: %v", entries)
	}
	if err := os.WriteFile(s.BlobPath(d), data[:5], 0o600); err != nil { // cut short
		t.Fatal(err)
	}
	commit()
	got, err := os.ReadFile(s.BlobPath(d))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("a blob cut short was not replaced: %q, %v", got, err)
	}
}

// Lookup gives the record as Step does, but its inputs, which it does not
// decode; a damaged record is dropped all the same.
func TestLookupLeavesInputsOut(t *testing.T) {
	s := open(t, t.TempDir())
	key := NewKey("run").String("cmd", "true").Sum()
	rec := &Record{Key: key, CreatedBy: "RUN true", Created: time.Now().UTC().Truncate(time.Second),
		Change: []byte(`{"env":["A=b"]}`), Inputs: &Inputs{Instruction: "RUN true", Fields: map[string]digest.Digest{"x": digest.FromString("x")}}}
	if err := s.PutStep(rec); err != nil {
		t.Fatal(err)
	}
	full, err := s.Step(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Lookup(key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Inputs != nil || full.Inputs == nil {
		t.Errorf("Lookup's inputs %+v, Step's %+v", got.Inputs, full.Inputs)
	}
	if got.Key != full.Key || got.CreatedBy != full.CreatedBy || !got.Created.Equal(full.Created) ||
		string(got.Change) != string(full.Change) || !got.LastUsed.Equal(full.LastUsed) || got.LastUsed.IsZero() {
		t.Errorf("Lookup = %+v, Step = %+v", got, full)
	}
	if err := os.WriteFile(s.stepPath(key), []byte(`{"key":"`+key.String()+`","inputs":{`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(key); !errors.Is(err, ErrNotFound) {
		t.Errorf("a record cut short: err = %v", err)
	}
}

// A step whose work fails, or panics, leaves its key unlocked.
func TestMakeStepLaterUnlocksOnFailure(t *testing.T) {
	root := t.TempDir()
	a, b := open(t, root), open(t, root)
	key := NewKey("run failing").Sum()
	if _, _, _, err := a.MakeStepLater(context.Background(), key, false, func() (*Record, error) {
		return nil, errors.New("the step failed")
	}); err == nil {
		t.Fatal("no error from a failed step")
	}
	func() {
		defer func() { recover() }()
		a.MakeStepLater(context.Background(), key, false, func() (*Record, error) { panic("the step panicked") })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unlock, err := b.LockStep(ctx, key)
	if err != nil {
		t.Fatalf("the key stayed locked: %v", err)
	}
	unlock()
}
