package cache

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mybuild/mybuild/internal/atomicfile"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// membersDir holds the member table of each gzip layer blob the builder
// made (layerdiff.Member): what the next build of an edited COPY copies
// unchanged members by. A table is a hint, checked against the blob's
// bytes when used: one lost to a crash only means compressing again.
const membersDir = "members"

// maxMembers bounds a member table: a line of about 150 bytes for each
// member of at least a few hundred KiB of tar.
const maxMembers = 16 << 20

func (s *Store) membersPath(d digest.Digest) string {
	return filepath.Join(s.root, membersDir, d.Encoded())
}

// PutMembers keeps table, the member table of the blob d.
func (s *Store) PutMembers(d digest.Digest, table []byte) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("member table: %w", err)
	}
	err := atomicfile.Write(s.membersPath(d), func(w io.Writer) error {
		_, err := w.Write(table)
		return err
	}, atomicfile.WithTempDir(s.tmp), atomicfile.WithMode(0o600), atomicfile.WithoutSync())
	if err != nil {
		return fmt.Errorf("member table of %s: %w", d, err)
	}
	return nil
}

// Members returns the member table of the blob d, as PutMembers kept it;
// an error wrapping fs.ErrNotExist when there is none.
func (s *Store) Members(d digest.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("member table: %w", err)
	}
	f, err := openFile(s.membersPath(d), unix.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("member table of %s: %w", d, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMembers+1))
	if err != nil {
		return nil, fmt.Errorf("member table of %s: %w", d, err)
	}
	if len(data) > maxMembers {
		return nil, fmt.Errorf("member table of %s: over %d bytes", d, maxMembers)
	}
	return data, nil
}

// dropMembers removes the member table of the blob d, with the blob. One
// that stays (the removal failed) is never used without its blob: only
// its space is lost, until prune --all.
func (s *Store) dropMembers(d digest.Digest) { _ = os.Remove(s.membersPath(d)) }
