package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
)

// ErrNotFound reports that no step record has the key.
var ErrNotFound = errors.New("not in cache")

// Record is what the cache keeps about one step.
type Record struct {
	Key       digest.Digest `json:"key"`
	CreatedBy string        `json:"created_by"`
	// Layer is the layer the step added, nil when it added none.
	Layer *layer.Layer `json:"layer,omitempty"`
	// Base lists the layers of a base image, for the record of a FROM.
	Base []layer.Layer `json:"base,omitempty"`
	// Change is the step's effect on the image config, in the builder's
	// own encoding.
	Change  json.RawMessage `json:"config_change,omitempty"`
	Created time.Time       `json:"created"`
	// Inputs is what went into the key, to explain a later miss; nil in
	// records made before it was kept, and in FROM records.
	Inputs *Inputs `json:"inputs,omitempty"`
	// LastUsed comes from the record file's mtime.
	LastUsed time.Time `json:"-"`
}

func (s *Store) stepPath(key digest.Digest) string {
	return filepath.Join(s.root, stepsDir, key.Encoded()+".json")
}

// Step returns the record of key, or ErrNotFound. A record that cannot be
// read back whole is deleted and reported as not found; so is one whose
// layer blob is gone.
func (s *Store) Step(key digest.Digest) (*Record, error) {
	return s.step(key, true)
}

// Lookup is Step without the record's Inputs (nil), which only an
// explanation of a miss reads: what a build looks each of its steps up
// with, decoding a third less of every record.
func (s *Store) Lookup(key digest.Digest) (*Record, error) {
	return s.step(key, false)
}

func (s *Store) step(key digest.Digest, inputs bool) (*Record, error) {
	if key.Validate() != nil {
		return nil, fmt.Errorf("step %q: invalid key", key)
	}
	p := s.stepPath(key)
	data, mtime, err := readRecordFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read step %s: %w", key, err)
	}
	rec, err := decodeRecord(data, inputs)
	if err != nil || rec.Key != key || !s.hasBlobs(rec) {
		os.Remove(p)
		return nil, ErrNotFound
	}
	rec.LastUsed = mtime
	return rec, nil
}

// readRecordFile reads the record file p, and its mtime (its last use)
// from the same open file.
func readRecordFile(p string) ([]byte, time.Time, error) {
	data, fi, err := readFileStat(p)
	if err != nil {
		return nil, time.Time{}, err
	}
	return data, fi.ModTime(), nil
}

// recordNoInputs decodes a record but its inputs, which stay as they are
// (its Inputs field is shallower than Record's, so it takes the key).
type recordNoInputs struct {
	Record
	Inputs json.RawMessage `json:"inputs,omitempty"`
}

func decodeRecord(data []byte, inputs bool) (*Record, error) {
	var rec Record
	if inputs {
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, err
		}
	} else {
		var r recordNoInputs
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, err
		}
		rec = r.Record
	}
	if rec.Key.Validate() != nil {
		return nil, errors.New("invalid key")
	}
	for _, l := range rec.layers() {
		if l.Digest.Validate() != nil || l.DiffID.Validate() != nil || l.Size < 0 {
			return nil, errors.New("invalid layer")
		}
	}
	if in := rec.Inputs; in != nil && in.Files != "" && in.Files.Validate() != nil {
		in.Files = "" // a damaged list only explains less
	}
	return &rec, nil
}

// layers lists every layer the record refers to.
func (r *Record) layers() []layer.Layer {
	if r.Layer != nil {
		return append([]layer.Layer{*r.Layer}, r.Base...)
	}
	return r.Base
}

func (s *Store) hasBlobs(rec *Record) bool {
	for _, l := range rec.layers() {
		if !s.HasBlob(l.Digest, l.Size) {
			return false
		}
	}
	return true
}

// Touch records that the step was used now.
func (s *Store) Touch(key digest.Digest) {
	now := time.Now()
	_ = os.Chtimes(s.stepPath(key), now, now)
}

// touchEvery is how old the last use of a record may grow before a use
// is recorded again (Used): prune's ages are kept to the minute, and a
// build that hits every step writes nothing for them.
const touchEvery = time.Minute

// Used records that rec, as Step read it, was used now, unless its last
// use is less than touchEvery ago.
func (s *Store) Used(rec *Record) {
	if time.Since(rec.LastUsed) >= touchEvery {
		s.Touch(rec.Key)
	}
}

// PutStep stores rec. Everything it refers to must already be stored:
// the record is written, then the filesystem is flushed, and only then
// is the record renamed into place, so that after a crash a record never
// points at data that was lost. The one flush makes the record, its
// layer's blob (see BlobWriter.CommitUnflushed) and its unpacked files
// durable at once. The record is then indexed for explanations (see
// Earlier).
func (s *Store) PutStep(rec *Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if len(rec.layers()) > 0 {
		err = s.writeAtomic(s.stepPath(rec.Key), data, atomicfile.WithoutSync(), atomicfile.BeforeRename(s.syncFS))
	} else {
		err = s.writeAtomic(s.stepPath(rec.Key), data)
	}
	if err == nil {
		s.indexRecord(rec)
	}
	return err
}

// DeleteStep removes the record of key.
func (s *Store) DeleteStep(key digest.Digest) error {
	err := os.Remove(s.stepPath(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// MakeStep stores the record newRecord returns for key, under the key's lock:
// builds that miss the same key at once make it once, the later ones
// waiting and then finding the first one's record (made is false then).
// With fresh set, the record is made even when one is stored already.
func (s *Store) MakeStep(ctx context.Context, key digest.Digest, fresh bool, newRecord func() (*Record, error)) (rec *Record, made bool, err error) {
	rec, made, stored, err := s.MakeStepLater(ctx, key, fresh, newRecord)
	if err != nil {
		return nil, false, err
	}
	if err := stored(); err != nil {
		return nil, false, err
	}
	return rec, made, nil
}

// MakeStepLater is MakeStep that returns the record newRecord made before
// it is stored: its flush and rename (PutStep) are left running, the
// key's lock held until they end, and stored waits for them and returns
// their error. The caller may use the record meanwhile, and must call
// stored before it ends. The last step of a build is stored so while
// its image is written: the two flushes overlap.
func (s *Store) MakeStepLater(ctx context.Context, key digest.Digest, fresh bool, newRecord func() (*Record, error)) (rec *Record, made bool, stored func() error, err error) {
	none := func() error { return nil }
	unlock, err := s.LockStep(ctx, key)
	if err != nil {
		return nil, false, none, err
	}
	storing := false // the lock handed to the goroutine that stores
	defer func() {
		if !storing {
			unlock()
		}
	}()
	if !fresh {
		rec, err := s.Step(key)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return rec, false, none, err
		}
	}
	if rec, err = newRecord(); err != nil {
		return nil, false, none, err
	}
	done := make(chan error, 1)
	storing = true
	go func() {
		defer unlock()
		done <- s.PutStep(rec)
	}()
	return rec, true, sync.OnceValue(func() error { return <-done }), nil
}

// LockStep serialises work on one step between builds: the second build
// to compute a key waits, then finds the first one's record.
func (s *Store) LockStep(ctx context.Context, key digest.Digest) (unlock func(), err error) {
	l, err := lock(ctx, filepath.Join(s.root, locksDir, key.Encoded()), lockExclusive)
	if err != nil {
		return nil, err
	}
	return func() { l.unlock() }, nil
}

// writeAtomic replaces path with data, mode 0600, through a temp file in
// the store's scratch dir, which a crash leaves for reclaim to clean.
func (s *Store) writeAtomic(path string, data []byte, opts ...atomicfile.Option) error {
	opts = append([]atomicfile.Option{atomicfile.WithTempDir(s.tmp), atomicfile.WithMode(0o600)}, opts...)
	err := atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, opts...)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteState atomically replaces a state file (see StatePath).
func (s *Store) WriteState(name string, data []byte) error {
	return s.writeAtomic(s.StatePath(name), data)
}

// WriteStateUnflushed is WriteState without the flush before the rename,
// for a state its readers check against what it describes: a crash may
// leave it as it was, or unreadable, and either is only a state out of
// date.
func (s *Store) WriteStateUnflushed(name string, data []byte) error {
	return s.writeAtomic(s.StatePath(name), data, atomicfile.WithoutSync())
}
