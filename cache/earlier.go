package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// indexDir holds the index a build reads to explain a miss (Earlier):
// for each position of a Dockerfile, and for each instruction, a file
// that lists the keys of the records made there, one per line, appended
// to as records are put. A key whose record is gone is skipped; prune
// removes the index, and the next build that explains a miss makes it
// again from the records (indexComplete says it is made). It only
// speeds explanations up: one line lost to a crash explains less.
const (
	indexDir      = "index"
	indexComplete = "complete"
)

// indexFiles are the names of the index files of in: its position and
// its instruction.
func indexFiles(in *Inputs) [2]string {
	pos := sha256.Sum256([]byte(in.Context + "\x00" + in.Dockerfile + "\x00" + in.Stage + "\x00" + strconv.Itoa(in.Position)))
	ins := sha256.Sum256([]byte(in.Instruction))
	return [2]string{"pos-" + hex.EncodeToString(pos[:16]), "ins-" + hex.EncodeToString(ins[:16])}
}

// explained tells whether rec keeps the inputs an explanation compares.
func explained(rec *Record) bool { return rec.Inputs != nil && rec.Inputs.Fields != nil }

// indexRecord adds rec's key to the index files of its inputs. It is
// best effort, as the index is.
func (s *Store) indexRecord(rec *Record) {
	if !explained(rec) {
		return
	}
	for _, name := range indexFiles(rec.Inputs) {
		_ = s.appendIndex(name, rec.Key.Encoded()+"\n")
	}
}

// appendIndex appends lines to the index file name, in one write.
func (s *Store) appendIndex(name, lines string) error {
	dir := filepath.Join(s.root, indexDir)
	f, err := openFile(filepath.Join(dir, name), unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			f, err = openFile(filepath.Join(dir, name), unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o600)
		}
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(lines)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// earlierPerIndex bounds what Earlier reads of each index file: its
// newest keys. Records pile up at one position of a Dockerfile edited
// again and again, and the closest to a miss is as a rule among the
// newest of them.
const earlierPerIndex = 64

// Earlier returns the records that keep their inputs and were made at
// in's position (the same context, Dockerfile, stage and position) or of
// in's instruction, at most the newest earlierPerIndex of each: the only
// ones an explanation of a miss of in compares it with. It reads them
// through the index, not every record of the store; an index not made
// yet is made first, from every record.
func (s *Store) Earlier(in *Inputs) ([]*Record, error) {
	if _, err := os.Stat(filepath.Join(s.root, indexDir, indexComplete)); err != nil {
		if err := s.makeIndex(); err != nil {
			return nil, fmt.Errorf("index records: %w", err)
		}
	}
	seen := map[string]bool{}
	var recs []*Record
	for _, name := range indexFiles(in) {
		data, err := readFile(filepath.Join(s.root, indexDir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read record index: %w", err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		read := 0
		for i := len(lines) - 1; i >= 0 && read < earlierPerIndex; i-- { // newest first
			hex := lines[i]
			if seen[hex] {
				continue
			}
			seen[hex] = true
			d := digest.NewDigestFromEncoded(digest.SHA256, hex)
			if d.Validate() != nil {
				continue // a line cut short by a crash, or none
			}
			if rec, err := s.Step(d); err == nil && explained(rec) {
				recs = append(recs, rec)
				read++
			}
		}
	}
	return recs, nil
}

// makeIndex indexes every record of the store, then says the index is
// made. Two builds that make it at once list keys twice, which Earlier
// reads once.
func (s *Store) makeIndex() error {
	recs, err := s.Steps()
	if err != nil {
		return err
	}
	// Oldest first, as PutStep appends them: Earlier reads from the end.
	slices.SortStableFunc(recs, func(a, b *Record) int { return a.Created.Compare(b.Created) })
	lines := map[string]*bytes.Buffer{}
	for _, rec := range recs {
		if !explained(rec) {
			continue
		}
		for _, name := range indexFiles(rec.Inputs) {
			if lines[name] == nil {
				lines[name] = &bytes.Buffer{}
			}
			lines[name].WriteString(rec.Key.Encoded() + "\n")
		}
	}
	for name, b := range lines {
		if err := s.appendIndex(name, b.String()); err != nil {
			return err
		}
	}
	return s.appendIndex(indexComplete, "")
}

// dropIndex removes the index, which prune leaves naming records it
// deleted: the next build that explains a miss makes it again.
func (s *Store) dropIndex() error {
	return os.RemoveAll(filepath.Join(s.root, indexDir))
}
