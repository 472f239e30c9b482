package build

import (
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	digest "github.com/opencontainers/go-digest"
)

// stepInputs is what a step record keeps of the inputs of its key
// (cache.Inputs), and what explaining a miss needs beside it.
type stepInputs struct {
	cache.Inputs
	// files is the list Inputs.Files will name; nil for none.
	files []cache.FileEntry
	// from is the stage a COPY --from reads, nil for none: a change of
	// its key is explained by its first miss.
	from *stage
	// platform is the stage's, which places the step in the shared cache.
	platform string
}

// explainer is a planned step that tells more of its inputs than the
// digests of its key's fields: plain values, the environment, files.
type explainer interface {
	explain(in *stepInputs)
}

// nameStage gives a stage what records keep of it: its name, whatever
// the number of stages built, and for a named context dir that dir; and
// says that its last step was a FROM of an image (a FROM of a stage goes
// on from that stage's last step).
func (b *builder) nameStage(st *stage, n *node) {
	st.name, st.prevFrom = n.label, n.baseNode == nil
	if n.dir != "" {
		st.contextDir = absPath(n.dir)
	}
}

// absPath is p made absolute, as records keep paths; p itself when it
// cannot be.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// inputs gathers the inputs of a step keyed with fields.
func (b *builder) inputs(st *stage, info StepInfo, p *plan, fields map[string]digest.Digest) *stepInputs {
	in := &stepInputs{Inputs: cache.Inputs{
		Context: absPath(b.opts.Context), Dockerfile: absPath(b.opts.Dockerfile), Stage: st.name, Position: info.Index,
		Instruction: info.Instruction, Fields: fields,
	}, platform: image.FormatPlatform(st.platform)}
	if st.contextDir != "" { // a named context dir: its own context, no Dockerfile
		in.Context, in.Dockerfile = st.contextDir, ""
	}
	if !p.link {
		in.Parent = st.key
	}
	if e, ok := p.inputs.(explainer); ok {
		e.explain(in)
	}
	if p.args != nil { // an ARG: its key has the values it gives
		in.Env = map[string]digest.Digest{}
		for _, kv := range p.args.declared {
			in.Args = append(in.Args, kv.Key)
			if kv.Value != nil {
				in.Env[kv.Key] = digest.FromString(*kv.Value)
			}
		}
	}
	return in
}

func (r *runStep) explain(in *stepInputs) {
	in.Values = map[string]string{"user": r.user, "workdir": r.workdir, "network": string(r.network), "platform": r.platform}
	in.Env = map[string]digest.Digest{}
	for _, kv := range r.env {
		k, v, _ := strings.Cut(kv, "=")
		in.Env[k] = digest.FromString(v)
	}
	in.Args = slices.Clone(r.argNames)
	for _, m := range r.mounts {
		if cb, ok := m.(*contextBind); ok {
			in.files = append(in.files, fileEntries(cb.rel, cb.files, r.b.opts.ContextOwners)...)
		}
	}
}

func (s *copyStep) explain(in *stepInputs) {
	in.Values = map[string]string{"dest": s.cp.dest}
	in.from = s.from
	in.files = s.cp.fileList()
}

func (s *addStep) explain(in *stepInputs) {
	in.Values = map[string]string{"dest": s.cp.dest}
	in.files = s.cp.fileList()
}

func (w workdirStep) explain(in *stepInputs) {
	in.Values = map[string]string{"workdir": w.dir, "user": w.user}
}

// fileList lists the context files of a COPY or ADD, each by its path in
// the context; nil for a COPY --from, whose files are known only when it
// runs (its key has the stage's key instead).
func (p *copyPlan) fileList() []cache.FileEntry {
	if p.from != nil {
		return nil
	}
	out := []cache.FileEntry{}
	for _, s := range p.sources {
		out = append(out, fileEntries(s.match.Path, s.files, p.owners)...)
	}
	return out
}

// fileEntries lists files found below the context path dir.
func fileEntries(dir string, files []buildcontext.File, owners func(uid, gid uint32) (uint32, uint32)) []cache.FileEntry {
	out := make([]cache.FileEntry, 0, len(files))
	for _, f := range files {
		k := cache.NewSum("file") // only its sum is kept
		fileKeyFields(k, f, owners)
		out = append(out, cache.FileEntry{Path: path.Join(dir, f.Rel), Digest: k.Sum().Encoded()[:16]})
	}
	return out
}
