package mountsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry"
)

// state is what a machine knows of its copy of a cache mount: the
// generation of the shared copy it last imported or exported, and the
// chunks each top entry was then, with a fingerprint of its stat data to
// tell whether it changed since without reading it.
type state struct {
	Generation int64                 `json:"generation"`
	Chunks     map[string]chunkState `json:"chunks"`
}

type chunkState struct {
	Chunks      []registry.MountChunk `json:"chunks"`
	Fingerprint string                `json:"fingerprint"`
}

// stateName is the state file of the cache mount id in the store.
func stateName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "cachemount-" + hex.EncodeToString(sum[:16]) + ".json"
}

// loadState reads the state of id; a missing or unreadable one is
// generation 0, older than any shared copy.
func loadState(store *cache.Store, id string) *state {
	st := &state{}
	if data, err := os.ReadFile(store.StatePath(stateName(id))); err == nil {
		_ = json.Unmarshal(data, st) // unreadable: start over
	}
	if st.Chunks == nil {
		st.Chunks = map[string]chunkState{}
	}
	return st
}

func saveState(store *cache.Store, id string, st *state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return store.WriteState(stateName(id), data)
}
