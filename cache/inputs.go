package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	digest "github.com/opencontainers/go-digest"
)

// Inputs is what went into a step's key, kept in its record in a compact
// form, so that a later miss of the same step can say what changed. It
// holds names and digests, never the values of the environment or of
// build args, and nothing at all of secrets.
type Inputs struct {
	// Context and Dockerfile are the absolute paths the step was built
	// from; Stage names its stage ("stage-N" when unnamed) and Position
	// is its 1-based index there (FROM is 1).
	Context    string `json:"context,omitempty"`
	Dockerfile string `json:"dockerfile,omitempty"`
	Stage      string `json:"stage,omitempty"`
	Position   int    `json:"position,omitempty"`
	// Instruction is the Dockerfile text, before expansion; the record's
	// CreatedBy is the text after it.
	Instruction string `json:"instruction,omitempty"`
	// Parent is the key of the step before it; "" when the key leaves
	// it out (COPY --link).
	Parent digest.Digest `json:"parent,omitempty"`
	// Fields has a digest of every field of the key by name (see
	// KeyBuilder.Fields): the complete list of what the key covers.
	Fields map[string]digest.Digest `json:"fields,omitempty"`
	// Values are fields shown as they are in an explanation: user,
	// workdir, network, platform, dest.
	Values map[string]string `json:"values,omitempty"`
	// Env is a RUN's environment: the digest of each variable's value.
	Env map[string]digest.Digest `json:"env,omitempty"`
	// Args names the build args in scope, which Env has too.
	Args []string `json:"args,omitempty"`
	// Files is the blob of the list of files a COPY or ADD brings, or a
	// RUN binds from the context (see FileList); "" for none.
	Files digest.Digest `json:"files,omitempty"`
}

// FileEntry is one file of a FileList: its path, as the step names it,
// and a digest of everything about it that the key covers (content,
// type, mode, owner, size, link target, xattrs).
type FileEntry struct {
	Path   string `json:"p"`
	Digest string `json:"d"`
}

// maxFileList bounds the file lists read into memory.
const maxFileList = 64 << 20

// PutFileList stores a file list as a blob, once whatever number of
// records refer to it, and returns its digest.
func (s *Store) PutFileList(files []FileEntry) (digest.Digest, error) {
	data, err := json.Marshal(files)
	if err != nil {
		return "", err
	}
	d := digest.FromBytes(data)
	if err := s.PutBlob(d, int64(len(data)), bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("store file list: %w", err)
	}
	return d, nil
}

// FileList reads the file list d. ErrNotFound: the store lacks it.
func (s *Store) FileList(d digest.Digest) ([]FileEntry, error) {
	r, _, err := s.OpenBlob(d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxFileList))
	if err != nil {
		return nil, fmt.Errorf("read file list %s: %w", d, err)
	}
	var files []FileEntry
	if err := json.Unmarshal(data, &files); err != nil {
		return nil, fmt.Errorf("read file list %s: %w", d, err)
	}
	return files, nil
}

// blobRefs lists every blob the record refers to: its layers' and its
// file list.
func (r *Record) blobRefs() []digest.Digest {
	var out []digest.Digest
	for _, l := range r.layers() {
		out = append(out, l.Digest)
	}
	if r.Inputs != nil && r.Inputs.Files != "" {
		out = append(out, r.Inputs.Files)
	}
	return out
}
