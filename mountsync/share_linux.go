package mountsync

import (
	"context"
	"errors"
	"fmt"
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
	repo  *registry.CacheRepo
	store *cache.Store
}

// New shares the cache mounts of store through repo.
func New(repo *registry.CacheRepo, store *cache.Store) *Sharer {
	return &Sharer{repo: repo, store: store}
}

// Import brings the shared copy of the cache mount id into dir when it is
// newer than the copy there (or dir lost the copy it had): each top
// entry whose chunk differs is unpacked beside it, then put in its place
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
	for _, ch := range remote.Chunks {
		cs, err := s.importChunk(ctx, dir, ch, st.Chunks[ch.Name])
		if err != nil {
			return false, fmt.Errorf("import cache mount: %w", err)
		}
		next.Chunks[ch.Name] = cs
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

// importChunk makes dir's entry ch.Name the chunk's, unless it is so
// already, and returns its new state.
func (s *Sharer) importChunk(ctx context.Context, dir string, ch registry.MountChunk, had chunkState) (chunkState, error) {
	if !validName(ch.Name) {
		return chunkState{}, fmt.Errorf("chunk name %q", ch.Name)
	}
	if had.Digest == ch.Digest {
		if fp, err := fingerprint(dir, ch.Name); err == nil && fp == had.Fingerprint {
			return had, nil
		}
	}
	if err := s.repo.FetchMountChunk(ctx, ch, s.store); err != nil {
		return chunkState{}, err
	}
	defer s.store.DeleteBlob(ch.Digest)
	tmp, err := s.store.TempDir("mount-import-")
	if err != nil {
		return chunkState{}, err
	}
	defer os.RemoveAll(tmp)
	r, _, err := s.store.OpenBlob(ch.Digest)
	if err != nil {
		return chunkState{}, err
	}
	err = extractChunk(r, tmp, ch.Name)
	r.Close()
	if err != nil {
		return chunkState{}, err
	}
	// The old entry goes aside, the new one in its place, each by rename.
	target := filepath.Join(dir, ch.Name)
	if err := os.Rename(target, filepath.Join(tmp, ".old")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return chunkState{}, err
	}
	if err := os.Rename(filepath.Join(tmp, ch.Name), target); err != nil {
		return chunkState{}, err
	}
	fp, err := fingerprint(dir, ch.Name)
	if err != nil {
		return chunkState{}, err
	}
	return chunkState{Digest: ch.Digest, Size: ch.Size, Fingerprint: fp}, nil
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
		cs := next.Chunks[n]
		mc.Chunks = append(mc.Chunks, registry.MountChunk{Name: n, Digest: cs.Digest, Size: cs.Size})
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
// fingerprint is unchanged and the repository has its chunk, else a new
// chunk written to the store (made lists those).
func (s *Sharer) chunks(dir string, st *state, remote *registry.MountCopy) (*state, []registry.MountChunk, error) {
	names, err := topEntries(dir)
	if err != nil {
		return nil, nil, err
	}
	shared := map[string]registry.MountChunk{}
	for _, ch := range remote.Chunks {
		shared[ch.Name] = ch
	}
	next := &state{Chunks: map[string]chunkState{}}
	var made []registry.MountChunk
	for _, n := range names {
		fp, err := fingerprint(dir, n)
		if err != nil {
			return nil, made, err
		}
		if had, ok := st.Chunks[n]; ok && had.Fingerprint == fp && shared[n].Digest == had.Digest {
			next.Chunks[n] = had
			continue
		}
		ch, err := makeChunk(s.store, dir, n)
		if err != nil {
			return nil, made, err
		}
		made = append(made, ch)
		next.Chunks[n] = chunkState{Digest: ch.Digest, Size: ch.Size, Fingerprint: fp}
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
