package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
)

// stateStore keeps small state files; *cache.Store is one.
type stateStore interface {
	StatePath(name string) string
	WriteState(name string, data []byte) error
}

var _ stateStore = (*cache.Store)(nil)

// refState is what a reference resolved to when it was last pulled for a
// platform: enough to use the image again without the registry. The
// manifest and config are kept here rather than as blobs of the store,
// because the store's prune removes every blob no step record refers to.
type refState struct {
	Ref      string `json:"ref"`
	Platform string `json:"platform"`
	// Digest is what the reference resolved to: an index or a manifest.
	Digest         digest.Digest `json:"digest"`
	ManifestDigest digest.Digest `json:"manifest_digest"`
	Manifest       []byte        `json:"manifest"`
	Config         []byte        `json:"config"`
	Resolved       time.Time     `json:"resolved"`
	// Endpoint is where the registry last answered for the reference's
	// manifest, as scheme://host, when it asked for no credentials: the
	// next pull asks it for the tag's digest with one plain HEAD (see
	// headTag). "" after an answer to credentials.
	Endpoint string `json:"endpoint,omitempty"`

	img *image.Image // built from Manifest and Config by image, once
}

// stateFormat names a state file from its kind and the hash of what it is
// about.
const stateFormat = "registry-%s-%s.json"

// Kinds of state file.
const (
	refKind   = "ref"   // a refState
	blobsKind = "blobs" // a knownBlobs
	headsKind = "heads" // the manifest URLs a build asked (Prefetcher)
)

func stateName(kind string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return fmt.Sprintf(stateFormat, kind, hex.EncodeToString(sum[:16]))
}

// statePattern matches the names of all state files of kind.
func statePattern(kind string) string { return fmt.Sprintf(stateFormat, kind, "*") }

// legacyPlatforms are the spellings a mybuild that did not normalize
// platforms kept resolutions under: the arm64 host's own, and a
// --platform linux/arm.
var legacyPlatforms = map[string]string{"linux/arm64": "linux/arm64/v8", "linux/arm/v7": "linux/arm"}

// loadRefState reads the last resolution of ref for platform, or nil.
// Its manifest and config are checked when they are used. A resolution
// kept under the platform's legacy spelling still counts.
func loadRefState(s stateStore, ref, platform string) *refState {
	if st := loadRefStateAs(s, ref, platform); st != nil {
		return st
	}
	if legacy, ok := legacyPlatforms[platform]; ok {
		if st := loadRefStateAs(s, ref, legacy); st != nil {
			st.Platform = platform
			return st
		}
	}
	return nil
}

// loadRefStateAs reads the resolution of ref kept under the platform
// spelled so.
func loadRefStateAs(s stateStore, ref, platform string) *refState {
	data, err := os.ReadFile(s.StatePath(stateName(refKind, ref, platform)))
	if err != nil {
		return nil
	}
	var st refState
	if json.Unmarshal(data, &st) != nil || st.Ref != ref || st.Platform != platform ||
		st.Digest.Validate() != nil || digest.FromBytes(st.Manifest) != st.ManifestDigest {
		return nil
	}
	return &st
}

func saveRefState(s stateStore, st *refState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.WriteState(stateName(refKind, st.Ref, st.Platform), data)
}

// knownBlobs lists blobs known to be in one repository, so that a push to
// another repository of the same registry can mount them instead of
// uploading them.
type knownBlobs struct {
	Registry   string          `json:"registry"`
	Repository string          `json:"repository"`
	Blobs      []digest.Digest `json:"blobs"`
}

// maxKnownBlobs bounds the list of a repository; the oldest go first.
const maxKnownBlobs = 1000

// rememberBlobs notes that repo holds blobs. It is best effort: two
// processes updating the same list at once may lose an entry, which only
// costs an upload instead of a mount.
func rememberBlobs(s stateStore, repo name.Repository, blobs []digest.Digest) {
	if len(blobs) == 0 {
		return
	}
	file := stateName(blobsKind, repo.RegistryStr(), repo.RepositoryStr())
	var kb knownBlobs
	if data, err := os.ReadFile(s.StatePath(file)); err == nil {
		_ = json.Unmarshal(data, &kb)
	}
	kb.Registry, kb.Repository = repo.RegistryStr(), repo.RepositoryStr()
	changed := false
	for _, d := range blobs {
		if i := slices.Index(kb.Blobs, d); i >= 0 {
			if i < len(kb.Blobs)-maxKnownBlobs/2 {
				// Getting old: move it to the end, so it is kept.
				kb.Blobs = append(slices.Delete(kb.Blobs, i, i+1), d)
				changed = true
			}
			continue
		}
		kb.Blobs = append(kb.Blobs, d)
		changed = true
	}
	if !changed {
		return
	}
	if n := len(kb.Blobs); n > maxKnownBlobs {
		kb.Blobs = kb.Blobs[n-maxKnownBlobs:]
	}
	if data, err := json.Marshal(kb); err == nil {
		_ = s.WriteState(file, data)
	}
}

// mountSources maps blobs to another repository of target's registry that
// holds them. It reads every known-blobs file.
func mountSources(s stateStore, target name.Repository) map[digest.Digest]name.Repository {
	// The pattern is matched against names only: the directory may hold
	// glob characters.
	dir, pattern := filepath.Split(s.StatePath(statePattern(blobsKind)))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	src := map[digest.Digest]name.Repository{}
	for _, e := range entries {
		if ok, _ := filepath.Match(pattern, e.Name()); !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var kb knownBlobs
		if json.Unmarshal(data, &kb) != nil || kb.Registry != target.RegistryStr() || kb.Repository == target.RepositoryStr() {
			continue
		}
		from := target.Registry.Repo(kb.Repository)
		for _, d := range kb.Blobs {
			src[d] = from
		}
	}
	return src
}
