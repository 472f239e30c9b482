package cache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/mybuild/mybuild/internal/writeback"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// BlobPath is where the blob d is (or would be) stored.
func (s *Store) BlobPath(d digest.Digest) string {
	return filepath.Join(s.root, blobsDir, d.Encoded())
}

// HasBlob reports whether the blob d is stored with the given size
// (size < 0: any size). Its content is checked when it is read
// (OpenBlob).
func (s *Store) HasBlob(d digest.Digest, size int64) bool {
	if d.Validate() != nil || d.Algorithm() != digest.SHA256 {
		return false
	}
	fi, err := os.Stat(s.BlobPath(d))
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// PutBlob stores the blob read from r, which must have digest d and the
// given size (size < 0: unknown). A blob already stored is not read again.
func (s *Store) PutBlob(d digest.Digest, size int64, r io.Reader) error {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("store blob %s: unsupported digest", d)
	}
	if size >= 0 && s.HasBlob(d, size) {
		return nil
	}
	w, err := s.NewBlobWriter()
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	if size >= 0 && w.Size() != size {
		return fmt.Errorf("store blob %s: got %d bytes, want %d: %w", d, w.Size(), size, ErrCorrupt)
	}
	return w.Commit(d)
}

// LockBlob serialises the making of blob d, between builds and between
// the builders of one build (each --platform loading its base): a
// fetcher takes it, then asks HasBlob again, so that two fetching the
// same blob at the same moment download it once, the second finding the
// first one's. PutBlob needs no lock: it is safe to race, only wasteful.
func (s *Store) LockBlob(ctx context.Context, d digest.Digest) (unlock func(), err error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("lock blob %s: unsupported digest", d)
	}
	l, err := lock(ctx, filepath.Join(s.root, locksDir, "blob-"+d.Encoded()), lockExclusive)
	if err != nil {
		return nil, err
	}
	return func() { l.unlock() }, nil
}

// BlobWriter writes one blob to a temp file, hashing it on the way, and
// moves it into the store only once its digest is checked.
type BlobWriter struct {
	s    *Store
	f    *os.File
	wb   *writeback.Writer // to f: the disk writes while the blob comes
	h    hash.Hash
	size int64
	done bool
}

// NewBlobWriter starts a blob.
func (s *Store) NewBlobWriter() (*BlobWriter, error) {
	f, err := os.CreateTemp(s.tmp, "blob-")
	if err != nil {
		return nil, fmt.Errorf("store blob: %w", err)
	}
	return &BlobWriter{s: s, f: f, wb: writeback.New(f), h: sha256.New()}, nil
}

func (w *BlobWriter) Write(p []byte) (int, error) {
	n, err := w.wb.Write(p)
	w.h.Write(p[:n])
	w.size += int64(n)
	return n, err
}

// Size is the number of bytes written so far.
func (w *BlobWriter) Size() int64 { return w.size }

// Digest is the digest of the bytes written so far.
func (w *BlobWriter) Digest() digest.Digest { return digest.NewDigest(digest.SHA256, w.h) }

// Commit checks that the blob has digest want, makes it durable and moves
// it into place. Another build storing the same blob at the same time is
// fine: both renames give the same content.
func (w *BlobWriter) Commit(want digest.Digest) error {
	return w.commit(want, true)
}

// CommitUnflushed is Commit for a blob that a step's record will refer
// to: it moves the blob into place without flushing it first, and leaves
// it to the flush of the filesystem that PutStep makes before it writes
// the record (one flush for the step, not one more for its blob). Until
// that flush nothing vouches for the blob: its seal is written only
// after it, and a crash before it leaves a blob that fails its digest
// when read, and is fetched or made again.
func (w *BlobWriter) CommitUnflushed(want digest.Digest) error {
	return w.commit(want, false)
}

func (w *BlobWriter) commit(want digest.Digest, flush bool) error {
	if got := w.Digest(); got != want {
		return fmt.Errorf("store blob %s: content has digest %s: %w", want, got, ErrCorrupt)
	}
	if !flush {
		return w.commitUnflushed(want)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("store blob %s: %w", want, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("store blob %s: %w", want, err)
	}
	if err := os.Rename(w.f.Name(), w.s.BlobPath(want)); err != nil {
		return fmt.Errorf("store blob %s: %w", want, err)
	}
	w.done = true
	// Renaming moved its ctime: the seal takes the stat data after.
	if fi, err := os.Stat(w.s.BlobPath(want)); err == nil {
		w.s.sealBlob(want, fi)
	}
	return nil
}

// Abort throws away an uncommitted blob. It is safe after Commit.
func (w *BlobWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// OpenBlob opens the blob d for reading. The reader checks the content
// while it is read: at EOF it fails with ErrCorrupt, and deletes the blob,
// if the bytes do not match d, so a damaged blob is never used twice. A
// reader that fails before the end (a decompressor, on damaged bytes)
// must read on to the end to learn whether the blob is to blame:
// layer.Decompress does. A blob that has not changed since it was last
// checked whole (its blob seal) is not hashed again.
func (s *Store) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return nil, 0, fmt.Errorf("open blob %s: unsupported digest", d)
	}
	f, err := openFile(s.BlobPath(d), unix.O_RDONLY, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("open blob %s: %w", d, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if s.sealedBlob(d, fi) || s.intactUnflushed(d, fi) {
		return f, fi.Size(), nil
	}
	return &verifyingReader{s: s, f: f, fi: fi, h: sha256.New(), want: d}, fi.Size(), nil
}

// DeleteBlob removes the blob d.
func (s *Store) DeleteBlob(d digest.Digest) error {
	s.unsealBlob(d)
	s.dropMembers(d)
	err := os.Remove(s.BlobPath(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

type verifyingReader struct {
	s    *Store
	f    *os.File
	fi   os.FileInfo // the blob's stat data when opened
	h    hash.Hash
	want digest.Digest
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	if err == io.EOF {
		if got := digest.NewDigest(digest.SHA256, r.h); got != r.want {
			os.Remove(r.f.Name())
			r.s.unsealBlob(r.want)
			return n, fmt.Errorf("blob %s has digest %s: %w", r.want, got, ErrCorrupt)
		}
		// Whole: a write since it was opened moved its ctime past fi's.
		r.s.sealBlob(r.want, r.fi)
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.f.Close() }
