package cache

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
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
	if err := os.WriteFile(s.BlobPath(d), []byte("0riginal content"), 0o600); err != nil {
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
	if s.HasBlob(d, int64(len(data))) {
		t.Fatal("corrupt blob kept")
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

// A build that died leaves its scratch dir; the next Open removes it, but
// never the scratch dir of a build that is still running.
func TestReclaimStaleScratch(t *testing.T) {
	root := t.TempDir()
	live := open(t, root)
	liveFile := filepath.Join(live.tmp, "in-use")
	os.WriteFile(liveFile, nil, 0o600)

	// A separate process opens the store and is killed.
	if os.Getenv("CACHE_TEST_CHILD") != "" {
		s, err := Open(context.Background(), os.Getenv("CACHE_TEST_CHILD"))
		if err != nil {
			os.Exit(1)
		}
		os.WriteFile(filepath.Join(s.tmp, "junk"), nil, 0o600)
		os.Stdout.WriteString("ready\n")
		time.Sleep(time.Hour)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReclaimStaleScratch$")
	cmd.Env = append(os.Environ(), "CACHE_TEST_CHILD="+root)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	io.ReadFull(out, buf)
	cmd.Process.Kill()
	cmd.Wait()
	if n := countDirs(t, filepath.Join(root, tmpDir)); n != 2 {
		t.Fatalf("want 2 scratch dirs before reclaim, got %d", n)
	}
	open(t, root)
	if n := countDirs(t, filepath.Join(root, tmpDir)); n != 2 { // live + the new one
		t.Fatalf("want 2 scratch dirs after reclaim, got %d", n)
	}
	if _, err := os.Stat(liveFile); err != nil {
		t.Fatal("a running build's scratch dir was reclaimed")
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

func TestCacheMountSharing(t *testing.T) {
	root := t.TempDir()
	a, b := open(t, root), open(t, root)
	ctx := context.Background()
	init := func(dir string) error { return os.WriteFile(filepath.Join(dir, "seed"), nil, 0o644) }

	d1, rel1, err := a.CacheMount(ctx, "/go/pkg", SharingShared, init)
	if err != nil {
		t.Fatal(err)
	}
	d2, rel2, err := b.CacheMount(ctx, "/go/pkg", SharingShared, init)
	if err != nil || d1 != d2 {
		t.Fatalf("shared: %s and %s, %v", d1, d2, err)
	}
	if _, err := os.Stat(filepath.Join(d1, "seed")); err != nil {
		t.Fatal("init did not run")
	}
	rel1()
	rel2()

	p1, relp, _ := a.CacheMount(ctx, "apt", SharingPrivate, nil)
	p2, relp2, _ := b.CacheMount(ctx, "apt", SharingPrivate, nil)
	if p1 == p2 {
		t.Error("private: a busy cache was shared")
	}
	relp()
	relp2()

	_, rell, _ := a.CacheMount(ctx, "npm", SharingLocked, nil)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, _, err := b.CacheMount(short, "npm", SharingLocked, nil); err == nil {
		t.Error("locked: two builds held the cache at once")
	}
	rell()
	if _, rel, err := b.CacheMount(ctx, "npm", SharingLocked, nil); err != nil {
		t.Errorf("locked, once released: %v", err)
	} else {
		rel()
	}
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

// A lock file unlinked (or replaced) between its open and its flock, as a
// reclaiming build does to a free one, is not a lock: tryLock says so.
func TestTryLockUnlinkedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	f, err := openLockFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	if l, ok, err := tryLockFile(f, p); ok || err != nil {
		l.unlock()
		t.Fatalf("unlinked: ok = %v, err = %v; want not ok", ok, err)
	}

	f, err = openLockFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	os.WriteFile(p, nil, 0o600)
	if l, ok, err := tryLockFile(f, p); ok || err != nil {
		l.unlock()
		t.Fatalf("replaced: ok = %v, err = %v; want not ok", ok, err)
	}

	l, ok, err := tryLock(p)
	if !ok || err != nil {
		t.Fatalf("in place: ok = %v, err = %v", ok, err)
	}
	l.unlock()
}

// A scratch dir whose lock file is gone is not taken for a crashed
// build's: it may be a live one's (its lock file unlinked by a racing
// reclaim, before tryLock checked for that).
func TestReclaimKeepsDirWithoutLockFile(t *testing.T) {
	root := t.TempDir()
	live := open(t, root)
	liveFile := filepath.Join(live.tmp, "in-use")
	os.WriteFile(liveFile, nil, 0o600)
	os.Remove(live.tmp + ".lock")
	open(t, root)
	if _, err := os.Stat(liveFile); err != nil {
		t.Fatal("a scratch dir without its lock file was reclaimed")
	}
}

// Close unmounts what is left mounted in the scratch dir before removing
// it, as reclaim does.
func TestCloseUnmounts(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(s.tmp, "m")
	os.Mkdir(m, 0o700)
	if err := unix.Mount("tmpfs", m, "tmpfs", 0, ""); err != nil {
		s.Close()
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(m, unix.MNT_DETACH) })
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(s.tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("scratch dir left: %v", err)
	}
}

// A leftover scratch dir that cannot be removed stays for a later Open;
// it does not make every build fail.
func TestReclaimSkipsWhatItCannotRemove(t *testing.T) {
	root := t.TempDir()
	open(t, root).Close()
	dead := filepath.Join(root, tmpDir, "0123456789abcdef")
	os.Mkdir(dead, 0o700)
	os.WriteFile(dead+".lock", nil, 0o600)
	stuck := filepath.Join(dead, "stuck")
	os.WriteFile(stuck, nil, 0o600)
	if err := setImmutable(stuck, true); err != nil {
		t.Skipf("chattr +i: %v", err)
	}
	t.Cleanup(func() { setImmutable(stuck, false) })

	s := open(t, root)
	if _, err := os.Stat(dead + ".lock"); err != nil {
		t.Errorf("the lock file of a leftover not removed is gone: %v", err)
	}
	s.Close()
	setImmutable(stuck, false)
	open(t, root)
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover not reclaimed once it can be: %v", err)
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

// A cache mount dir made by another build while this one sets up its own
// is kept, though still empty: it may already be mounted there. os.Rename
// checks for a directory first, then renames, which would replace one
// made in between; the loop makes that happen.
func TestCacheMountKeepsEmptyWinner(t *testing.T) {
	s := open(t, t.TempDir())
	for i := range 1000 {
		id := fmt.Sprint("/cache", i)
		sum := sha256.Sum256([]byte(id))
		other := filepath.Join(s.root, mountsDir, hex.EncodeToString(sum[:16]))
		var made error
		done := make(chan struct{})
		init := func(dir string) error {
			// Another build makes the dir meanwhile, empty.
			go func() { made = os.Mkdir(other, 0o755); close(done) }()
			return os.WriteFile(filepath.Join(dir, "seed"), nil, 0o644)
		}
		dir, release, err := s.CacheMount(context.Background(), id, SharingShared, init)
		<-done
		if err != nil {
			t.Fatal(err)
		}
		release()
		if _, err := os.Stat(filepath.Join(dir, "seed")); made == nil && err == nil {
			t.Fatalf("try %d: the other build's cache mount dir was replaced", i)
		}
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
