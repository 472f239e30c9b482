package build

import (
	"context"
	"errors"
	"strings"

	"github.com/mybuild/mybuild/cache"
	digest "github.com/opencontainers/go-digest"
)

// Miss says why a step missed the cache: what differs from the closest
// earlier record of the same step.
type Miss struct {
	// Reason is one line: "1 file changed: fmt/print.go; 2 added: a, b",
	// "build arg VERSION changed", "parent step missed". Values of the
	// environment and of build args never appear, secrets not at all.
	Reason string
	// Changes names what changed: the paths of files, and other inputs
	// by name ("build arg VERSION", "env MODE", "user", "parent").
	Changes []string
	// Earlier is the key of the record compared with; "" when there was
	// none (a step never built, --no-cache).
	Earlier digest.Digest
	// DecidedBy names the first step that missed and so made this one
	// miss (a parent, or the stage a COPY --from reads), as
	// "[build 3/5] COPY . /src"; "" when the step's own inputs changed.
	DecidedBy string
}

// missReporter is a Reporter that is told why a step missed, before it
// runs.
type missReporter interface {
	StepMissed(info StepInfo, miss Miss)
}

// explain is Build with Options.Explain: every step keyed and looked up,
// none run, and no image.
func explain(ctx context.Context, opts Options) (*Result, error) {
	b, err := newBuilder(ctx, opts)
	if err != nil {
		return nil, err
	}
	g, err := b.plan(b.opts.Target)
	if err != nil {
		return nil, err
	}
	if err := b.preflight(g); err != nil {
		return nil, err
	}
	b.graph = g
	if err := b.runAll(ctx, g); err != nil {
		return nil, err
	}
	return &Result{Steps: b.stepResults()}, nil
}

// maxChanges bounds Miss.Changes.
const maxChanges = 1000

// explainMiss compares a step that missed with the closest earlier record
// of it.
func (b *builder) explainMiss(ctx context.Context, st *stage, in *stepInputs) *Miss {
	if b.opts.NoCache {
		return &Miss{Reason: "the cache is not used (--no-cache)"}
	}
	old := b.closest(ctx, in)
	if old == nil {
		return &Miss{Reason: "no earlier record of this step"}
	}
	m := b.compare(ctx, st, old, in)
	m.Earlier = old.Key
	return m
}

// closest is the earlier record most like the step: one with its
// parent, at its position in the same Dockerfile and context, of the
// same instruction; the newest of the best. A record qualifies only at
// the same position or with the same instruction. The shared cache is
// asked when the store has none.
func (b *builder) closest(ctx context.Context, in *stepInputs) *cache.Record {
	var best *cache.Record
	bestScore := 0
	for _, r := range b.earlierRecords(&in.Inputs) {
		s := matchScore(r.Inputs, &in.Inputs)
		if s == 0 {
			continue
		}
		if s > bestScore || s == bestScore && r.Created.After(best.Created) {
			best, bestScore = r, s
		}
	}
	if best == nil {
		return b.sharedClosest(ctx, in)
	}
	return best
}

// matchScore rates how much an earlier step's inputs are the current
// one's; 0: not the same step.
func matchScore(old, in *cache.Inputs) int {
	samePos := old.Context == in.Context && old.Dockerfile == in.Dockerfile &&
		old.Stage == in.Stage && old.Position == in.Position
	sameInstr := old.Instruction == in.Instruction
	if !samePos && !sameInstr {
		return 0
	}
	s := 0
	if old.Parent == in.Parent {
		s += 4
	}
	if sameInstr {
		s += 2
	}
	if samePos {
		s++
	}
	return s
}

// earlierRecords are the store's records that an explanation of a miss
// of in may compare it with (see cache.Store.Earlier); the build keeps
// them by key, for withReusable to find the one a miss named.
func (b *builder) earlierRecords(in *cache.Inputs) []*cache.Record {
	recs, err := b.opts.Store.Earlier(in)
	b.earlier.mu.Lock()
	defer b.earlier.mu.Unlock()
	if err != nil {
		if !b.earlier.warned { // once a build
			b.earlier.warned = true
			b.rep.Warning("explain cache misses: " + err.Error())
		}
		return nil
	}
	if b.earlier.recs == nil {
		b.earlier.recs = map[digest.Digest]*cache.Record{}
	}
	for i, r := range recs {
		if known, ok := b.earlier.recs[r.Key]; ok {
			recs[i] = known
		} else {
			b.earlier.recs[r.Key] = r
		}
	}
	return recs
}

// fileList reads a record's file list: from the store, else from the
// shared cache. nil: not known.
func (b *builder) fileList(ctx context.Context, d digest.Digest) map[string]string {
	if d == "" {
		return nil
	}
	files, err := b.opts.Store.FileList(d)
	if errors.Is(err, cache.ErrNotFound) {
		files, err = b.sharedFileList(ctx, d)
	}
	if err != nil {
		return nil
	}
	return fileMap(files)
}

func fileMap(files []cache.FileEntry) map[string]string {
	m := make(map[string]string, len(files))
	for _, f := range files {
		m[f.Path] = f.Digest
	}
	return m
}

// missed records in the stage that a step missed (or ran, with
// --no-cache), for the steps after it.
func (st *stage) missed(info StepInfo, missed bool) {
	st.prevMissed, st.prevFrom = missed, false
	if missed && st.firstMiss == "" {
		st.firstMiss = info.Label() + " " + shortText(strings.SplitN(info.Instruction, "\n", 2)[0])
	}
}
