package build

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"path"
	"slices"
	"sync"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/provenance"
	"github.com/mybuild/mybuild/transport"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// materials are what a build read, for its provenance: the base images,
// the context files COPY and ADD took (by content digest), and what ADD
// downloaded or checked out. The builders of a multi-platform build share
// one: a stage shared by every platform is run by one builder only.
type materials struct {
	mu    sync.Mutex
	bases map[string]provenance.ResourceDescriptor // by URI
	files map[string]digest.Digest                 // context path -> content
	// remotes are ADD's URLs and git repositories, by URI.
	remotes map[string]provenance.ResourceDescriptor
	// invocation identifies the build; "" in a reproducible one.
	invocation string
}

func newMaterials(reproducible bool) *materials {
	m := &materials{bases: map[string]provenance.ResourceDescriptor{}, files: map[string]digest.Digest{},
		remotes: map[string]provenance.ResourceDescriptor{}}
	if !reproducible {
		var id [16]byte
		if _, err := rand.Read(id[:]); err == nil {
			m.invocation = hex.EncodeToString(id[:])
		}
	}
	return m
}

// digestSet is a digest as SLSA writes one: {"sha256": "…"}.
func digestSet(d digest.Digest) map[string]string {
	return map[string]string{d.Algorithm().String(): d.Encoded()}
}

// noteBase records a base image Load found, for the stage's platform.
func (m *materials) noteBase(r transport.Resolved, p ocispec.Platform) {
	uri := r.Ref
	if r.Registry {
		uri = provenance.ImagePURL(r.Ref, p)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bases[uri] = provenance.ResourceDescriptor{URI: uri, Digest: digestSet(r.Digest)}
}

// noteContext records context files a step reads otherwise than by COPY
// or ADD (a RUN --mount=type=bind of the context): under rel, by content.
func (m *materials) noteContext(rel string, files []buildcontext.File) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addFiles(rel, files)
}

// addFiles records files, under rel in the context, by content; m.mu
// held.
func (m *materials) addFiles(rel string, files []buildcontext.File) {
	for _, f := range files {
		if f.Digest != "" {
			m.files[path.Join(rel, f.Rel)] = f.Digest
		}
	}
}

// noteCopy records the sources of a COPY or ADD: the context files by
// content, the downloads by URL, git repositories by commit. A COPY
// --from reads a stage or an image, which is recorded as its own.
func (m *materials) noteCopy(cp *copyPlan) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cp.from == nil {
		for _, s := range cp.sources {
			if s.remote || s.heredoc || s.dirItself {
				continue
			}
			m.addFiles(s.match.Path, s.files)
		}
	}
	for _, r := range cp.remotes {
		d := r.digest
		if d == "" {
			d = r.checksum
		}
		rd := provenance.ResourceDescriptor{URI: r.url}
		if d != "" {
			rd.Digest = digestSet(d)
		}
		m.remotes[r.url] = rd
	}
	for _, g := range cp.repos {
		uri := g.ref.Remote
		if g.res.Ref != "" {
			uri += "#" + g.res.Ref
		}
		m.remotes[uri] = provenance.ResourceDescriptor{URI: uri, Digest: map[string]string{"gitCommit": g.res.Commit}}
	}
}

// dependencies lists the resolved dependencies, each kind in URI order:
// the base images, the context as one content digest (of the list of
// the files read, each path with its content digest), what ADD fetched,
// and with max every context file on its own.
func (m *materials) dependencies(max bool) []provenance.ResourceDescriptor {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []provenance.ResourceDescriptor
	for _, k := range slices.Sorted(maps.Keys(m.bases)) {
		out = append(out, m.bases[k])
	}
	paths := slices.Sorted(maps.Keys(m.files))
	list := make([][2]string, len(paths))
	for i, p := range paths {
		list[i] = [2]string{p, m.files[p].String()}
	}
	data, _ := json.Marshal(list) // strings only: cannot fail
	out = append(out, provenance.ResourceDescriptor{Name: "context", Digest: digestSet(digest.FromBytes(data))})
	for _, k := range slices.Sorted(maps.Keys(m.remotes)) {
		out = append(out, m.remotes[k])
	}
	if max {
		for _, p := range paths {
			out = append(out, provenance.ResourceDescriptor{Name: "context:" + p, Digest: digestSet(m.files[p])})
		}
	}
	return out
}

// consumed are the build args an ARG consumed, with their values; the
// proxy args, which may hold credentials, left out.
func (a *args) consumed() map[string]string {
	out := map[string]string{}
	for k := range a.used {
		if slices.Contains(proxyArgs, k) {
			continue
		}
		if v, ok := a.values[k]; ok {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
