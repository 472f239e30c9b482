package mountsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry"
)

// Sharer imports and exports the cache mounts of a store through a
// shared cache.
type Sharer struct {
	repo   *registry.CacheRepo
	store  *cache.Store
	pieces pieces
}

// New shares the cache mounts of store through repo.
func New(repo *registry.CacheRepo, store *cache.Store) *Sharer {
	return &Sharer{repo: repo, store: store, pieces: defaultPieces}
}

// Import brings the shared copy of the cache mount id into dir when it is
// newer than the copy there (or dir lost the copy it had): each top
// entry whose chunks differ is unpacked beside it, then put in its place
// by rename; an entry the shared copy lacks is removed. It says whether
// it imported.
func (s *Sharer) Import(ctx context.Context, id, dir string) (bool, error) {
	remote, err := s.repo.Mount(ctx, id)
	if errors.Is(err, cache.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	unlock, err := s.store.LockMountSync(ctx, id)
	if err != nil {
		return false, err
	}
	defer unlock()
	st := loadState(s.store, id)
	names, err := topEntries(dir)
	if err != nil {
		return false, err
	}
	lost := len(names) == 0 && len(st.Chunks) > 0
	if remote.Generation <= st.Generation && !lost {
		return false, nil
	}
	next := &state{Generation: remote.Generation, Chunks: map[string]chunkState{}}
	for name, chunks := range byEntry(remote.Chunks) {
		cs, err := s.importEntry(ctx, dir, name, chunks, st.Chunks[name])
		if err != nil {
			return false, fmt.Errorf("import cache mount: %w", err)
		}
		next.Chunks[name] = cs
	}
	for _, n := range names {
		if _, ok := next.Chunks[n]; !ok {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return false, err
			}
		}
	}
	return true, saveState(s.store, id, next)
}

// byEntry groups chunks by the top entry they hold, in order.
func byEntry(chunks []registry.MountChunk) map[string][]registry.MountChunk {
	out := map[string][]registry.MountChunk{}
	for _, ch := range chunks {
		out[ch.Name] = append(out[ch.Name], ch)
	}
	return out
}

// importEntry makes dir's entry name the one its chunks hold, unless it
// is so already, and returns its new state.
func (s *Sharer) importEntry(ctx context.Context, dir, name string, chunks []registry.MountChunk, had chunkState) (chunkState, error) {
	if !validName(name) {
		return chunkState{}, fmt.Errorf("chunk name %q", name)
	}
	if slices.Equal(had.Chunks, chunks) {
		if fp, err := fingerprint(dir, name); err == nil && fp == had.Fingerprint {
			return had, nil
		}
	}
	tmp, err := s.store.TempDir("mount-import-")
	if err != nil {
		return chunkState{}, err
	}
	defer os.RemoveAll(tmp)
	if err := s.extract(ctx, tmp, name, chunks); err != nil {
		return chunkState{}, err
	}
	// The old entry goes aside, the new one in its place, each by rename.
	target := filepath.Join(dir, name)
	if err := os.Rename(target, filepath.Join(tmp, ".old")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return chunkState{}, err
	}
	if err := os.Rename(filepath.Join(tmp, name), target); err != nil {
		return chunkState{}, err
	}
	fp, err := fingerprint(dir, name)
	if err != nil {
		return chunkState{}, err
	}
	return chunkState{Chunks: chunks, Fingerprint: fp}, nil
}

// extract fetches the chunks of name into the store, unpacks them into
// tmp, and deletes them from the store.
func (s *Sharer) extract(ctx context.Context, tmp, name string, chunks []registry.MountChunk) error {
	var readers []io.Reader
	for _, ch := range chunks {
		defer s.store.DeleteBlob(ch.Digest)
		if err := s.repo.FetchMountChunk(ctx, ch, s.store); err != nil {
			return err
		}
		r, _, err := s.store.OpenBlob(ch.Digest)
		if err != nil {
			return err
		}
		defer r.Close()
		readers = append(readers, r)
	}
	return extractChunk(ctx, io.MultiReader(readers...), tmp, name)
}

// Export pushes dir as the shared copy of the cache mount id, with the
// next generation: only the chunks the repository lacks are uploaded,
// and a top entry whose stat data did not change since the last import
// or export is not even read. It does nothing (and says false) when the
// cache is read-only, when dir is what the shared copy holds, or when the
// shared copy is newer than the one dir started from: an older machine
// never overwrites a newer copy.
func (s *Sharer) Export(ctx context.Context, id, dir string) (bool, error) {
	if s.repo.ReadOnly() {
		return false, nil
	}
	unlock, err := s.store.LockMountSync(ctx, id)
	if err != nil {
		return false, err
	}
	defer unlock()
	remote, err := s.repo.Mount(ctx, id)
	switch {
	case errors.Is(err, cache.ErrNotFound):
		remote = &registry.MountCopy{}
	case err != nil:
		return false, err
	}
	st := loadState(s.store, id)
	if remote.Generation > st.Generation {
		return false, nil
	}
	next, made, err := s.chunks(dir, st, remote)
	defer func() {
		for _, ch := range made {
			s.store.DeleteBlob(ch.Digest)
		}
	}()
	if err != nil {
		return false, fmt.Errorf("export cache mount: %w", err)
	}
	mc := &registry.MountCopy{Generation: max(remote.Generation, st.Generation) + 1}
	for _, n := range sortedNames(next.Chunks) {
		mc.Chunks = append(mc.Chunks, next.Chunks[n].Chunks...)
	}
	if slices.Equal(mc.Chunks, remote.Chunks) {
		next.Generation = remote.Generation
		return false, saveState(s.store, id, next)
	}
	if err := s.repo.PutMount(ctx, id, mc, s.store); err != nil {
		return false, err
	}
	next.Generation = mc.Generation
	return true, saveState(s.store, id, next)
}

// chunks is the state of every top entry of dir: the one known when its
// fingerprint is unchanged and the repository has its chunks, else new
// chunks written to the store (made lists those).
func (s *Sharer) chunks(dir string, st *state, remote *registry.MountCopy) (*state, []registry.MountChunk, error) {
	names, err := topEntries(dir)
	if err != nil {
		return nil, nil, err
	}
	shared := byEntry(remote.Chunks)
	next := &state{Chunks: map[string]chunkState{}}
	var made []registry.MountChunk
	for _, n := range names {
		fp, err := fingerprint(dir, n)
		if err != nil {
			return nil, made, err
		}
		if had, ok := st.Chunks[n]; ok && had.Fingerprint == fp && slices.Equal(shared[n], had.Chunks) {
			next.Chunks[n] = had
			continue
		}
		chunks, err := makeChunks(s.store, dir, n, s.pieces)
		made = append(made, chunks...)
		if err != nil {
			return nil, made, err
		}
		next.Chunks[n] = chunkState{Chunks: chunks, Fingerprint: fp}
	}
	return next, made, nil
}

func sortedNames(m map[string]chunkState) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// validName accepts a name of one path component.
func validName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\x00")
}
