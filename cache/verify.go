package cache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// VerifyOptions says how Verify goes.
type VerifyOptions struct {
	// Repair removes what is damaged: blobs whose bytes do not match their
	// digest, step records that cannot be read or whose blobs (layers, or
	// the file list of their inputs) are gone, unpacked layers that differ from their seal or have none. A build
	// makes them again when it needs them. It needs a store opened with
	// Exclusive.
	Repair bool
	// Report is given each problem as it is found (and repaired).
	Report func(Problem)
	// Unpack, with Repair, unpacks a damaged layer again from its blob
	// once it is removed (rootfs.Overlay.Repair); ErrNotFound says that
	// nothing tells what lies below it, and the next build that needs it
	// unpacks it. Nil leaves that to the next build too.
	Unpack func(ctx context.Context, diffID digest.Digest) error
}

// Verify checks the whole store, reading everything: every blob against
// its digest, every step record (it must be read back whole, and its
// blobs, layers and file list, must be there and sound), and every
// unpacked layer of this process's form against its seal, every file
// hashed. It returns how many problems it found.
func (s *Store) Verify(ctx context.Context, opts VerifyOptions) (int, error) {
	if opts.Repair && !s.exclusive {
		return 0, errors.New("verify --repair: the cache must be opened exclusively")
	}
	n := 0
	report := func(p Problem) {
		n++
		if opts.Report != nil {
			opts.Report(p)
		}
	}
	bad, err := s.verifyBlobs(ctx, opts.Repair, report)
	if err != nil {
		return n, err
	}
	if err := s.verifySteps(opts.Repair, bad, report); err != nil {
		return n, err
	}
	return n, s.verifyLayers(ctx, opts, report)
}

// verifyBlobs hashes every blob, and returns the damaged ones.
func (s *Store) verifyBlobs(ctx context.Context, repair bool, report func(Problem)) (map[digest.Digest]bool, error) {
	names, err := readDirNames(filepath.Join(s.root, blobsDir))
	if err != nil {
		return nil, err
	}
	bad := map[digest.Digest]bool{}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, name)
		what := ""
		if d.Validate() != nil {
			what = "not a blob name"
		} else if got, err := hashBlob(s.BlobPath(d)); err != nil {
			return nil, fmt.Errorf("verify blob %s: %w", d, err)
		} else if got != d {
			what = "content has digest " + got.String()
		}
		if what == "" {
			continue
		}
		s.unsealBlob(d)
		bad[d] = true
		p := Problem{Entry: "blob " + d.String(), What: what}
		if repair {
			if err := os.Remove(filepath.Join(s.root, blobsDir, name)); err != nil {
				return nil, err
			}
			p.Fix = "removed"
		}
		report(p)
	}
	return bad, nil
}

func hashBlob(path string) (digest.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// verifySteps reads every step record back, and checks that the blobs it
// refers to are there, sound and of the recorded size.
func (s *Store) verifySteps(repair bool, bad map[digest.Digest]bool, report func(Problem)) error {
	names, err := readDirNames(filepath.Join(s.root, stepsDir))
	if err != nil {
		return err
	}
	for _, name := range names {
		hex, _ := strings.CutSuffix(name, ".json")
		p := Problem{Entry: "step sha256:" + hex, What: s.recordProblem(name, bad)}
		if p.What == "" {
			continue
		}
		if repair {
			if err := os.Remove(filepath.Join(s.root, stepsDir, name)); err != nil {
				return err
			}
			p.Fix = "removed"
		}
		report(p)
	}
	return nil
}

// recordProblem says what is wrong with the record file name, or "".
func (s *Store) recordProblem(name string, bad map[digest.Digest]bool) string {
	hex, ok := strings.CutSuffix(name, ".json")
	key := digest.NewDigestFromEncoded(digest.SHA256, hex)
	if !ok || key.Validate() != nil {
		return "not a step record name"
	}
	data, err := os.ReadFile(filepath.Join(s.root, stepsDir, name))
	if err != nil {
		return fmt.Sprintf("cannot be read: %v", err)
	}
	rec, err := decodeRecord(data, true)
	switch {
	case err != nil:
		return fmt.Sprintf("cannot be read back: %v", err)
	case rec.Key != key:
		return "holds the record of " + rec.Key.String()
	}
	for _, l := range rec.layers() {
		switch {
		case bad[l.Digest]:
			return fmt.Sprintf("its blob %s is damaged", l.Digest)
		case !s.HasBlob(l.Digest, l.Size):
			return fmt.Sprintf("its blob %s is missing", l.Digest)
		}
	}
	// The file list of its inputs is a blob of the record too (prune keeps
	// it for the record), with no size recorded: it must be there, and
	// sound.
	if in := rec.Inputs; in != nil && in.Files != "" {
		switch {
		case bad[in.Files]:
			return fmt.Sprintf("its file list blob %s is damaged", in.Files)
		case !s.HasBlob(in.Files, -1):
			return fmt.Sprintf("its file list blob %s is missing", in.Files)
		}
	}
	return ""
}

// verifyLayers checks every unpacked layer of this process's form against
// its seal, in full. Repairs come after every layer was checked (and
// the damaged ones removed): unpacking one again may unpack the layers
// below it, which must have been checked first.
func (s *Store) verifyLayers(ctx context.Context, opts VerifyOptions, report func(Problem)) error {
	names, err := readDirNames(filepath.Join(s.root, layersDir))
	if err != nil {
		return err
	}
	type damaged struct {
		diffID   digest.Digest
		problems []Problem
	}
	var found []damaged
	for _, name := range names {
		if isSealName(name) {
			continue
		}
		diffID := digest.NewDigestFromEncoded(digest.SHA256, name)
		if diffID.Validate() != nil {
			report(Problem{Entry: "layer " + name, What: "not a layer name"})
			continue
		}
		problems, err := s.VerifyLayer(ctx, diffID, opts.Repair)
		if errors.Is(err, ErrUnsealed) {
			err, problems = nil, []Problem{{Entry: "layer " + diffID.String(), What: "has no seal (unpacked by an older mybuild, or by a build that crashed)"}}
		}
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			found = append(found, damaged{diffID, problems})
		}
	}
	for _, d := range found {
		fix := ""
		if opts.Repair {
			fix = s.unpackAgain(ctx, d.diffID, opts.Unpack)
		}
		for _, p := range d.problems {
			p.Fix = fix
			report(p)
		}
	}
	return nil
}

// unpackAgain unpacks the removed layer diffID again, when unpack is
// given, and says what became of it.
func (s *Store) unpackAgain(ctx context.Context, diffID digest.Digest, unpack func(context.Context, digest.Digest) error) string {
	const later = "the next build that needs it unpacks it again"
	if unpack == nil {
		return "removed; " + later
	}
	switch err := unpack(ctx, diffID); {
	case err == nil:
		return "unpacked again from its blob"
	case errors.Is(err, ErrNotFound):
		return "removed; no step record tells what lies below it, so " + later
	default:
		return fmt.Sprintf("removed; unpacking it again failed (%v), so %s", err, later)
	}
}
