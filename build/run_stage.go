package build

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/parser"
)

// runStage runs the FROM of a stage and then each of its instructions.
func (b *builder) runStage(ctx context.Context, s parser.Stage) (*stage, error) {
	total := len(s.Commands) + 1
	info := StepInfo{Index: 1, Total: total, Line: s.Line, Instruction: "FROM " + s.BaseName}
	start := time.Now()
	b.rep.StepStarted(info)
	st, err := b.from(ctx, s)
	res := StepResult{Index: 1, Total: total, Instruction: info.Instruction, Line: s.Line, Cached: true, Duration: time.Since(start)}
	if st != nil {
		res.Key = st.key
	}
	b.rep.StepFinished(info, res, err)
	b.results = append(b.results, res)
	if err != nil {
		return nil, b.df.ErrorAtLine(s.Line, err)
	}
	for i, cmd := range s.Commands {
		info := StepInfo{Index: i + 2, Total: total, Line: parser.Line(cmd), Instruction: instructionText(cmd)}
		if err := b.step(ctx, st, info, cmd); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// from makes the stage's starting image.
func (b *builder) from(ctx context.Context, s parser.Stage) (*stage, error) {
	name, err := b.df.ExpandWord(s.BaseName, nil)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(name, "scratch") {
		img := scratch(b.platform)
		return &stage{img: img, key: fromKey(&img, b.platform)}, nil
	}
	ref, ok, err := image.ParseRef(name)
	if err != nil {
		return nil, err
	}
	if !ok || ref.Transport == image.Docker {
		return nil, errUnsupportedFrom(name)
	}
	img, err := image.Load(ctx, ref, b.platform, b.opts.Store)
	if err != nil {
		return nil, err
	}
	if len(img.Config.Config.OnBuild) > 0 {
		return nil, fmt.Errorf("FROM %s: the base image has ONBUILD triggers, which mybuild does not run yet", name)
	}
	st := &stage{img: *img, key: fromKey(img, b.platform)}
	if err := b.recordBase(st, "FROM "+name); err != nil {
		return nil, err
	}
	return st, nil
}

// recordBase keeps a record of the base image's layers, so that they age
// and get pruned like the layers of steps.
func (b *builder) recordBase(st *stage, createdBy string) error {
	if rec, err := b.lookup(st.key); err != nil || rec != nil {
		return err
	}
	rec := &cache.Record{Key: st.key, CreatedBy: createdBy, Created: b.opts.Now().UTC()}
	for _, l := range st.img.Layers {
		rec.Base = append(rec.Base, cache.LayerRecord{MediaType: l.MediaType, Digest: l.Digest, DiffID: l.DiffID, Size: l.Size})
	}
	return b.opts.Store.PutStep(rec)
}

// step runs one instruction, or takes it from the cache.
func (b *builder) step(ctx context.Context, st *stage, info StepInfo, cmd instructions.Command) error {
	start := time.Now()
	b.rep.StepStarted(info)
	res := StepResult{Index: info.Index, Total: info.Total, Instruction: info.Instruction, Line: info.Line}
	err := b.runStep(ctx, st, info, cmd, &res)
	res.Duration = time.Since(start)
	b.rep.StepFinished(info, res, err)
	b.results = append(b.results, res)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return b.df.ErrorAtLine(info.Line, fmt.Errorf("[%d/%d] %s: %w", info.Index, info.Total, shortText(info.Instruction), err))
	}
	return nil
}

// instructionText is the Dockerfile text of a command, on one line.
func instructionText(cmd instructions.Command) string {
	if s, ok := cmd.(fmt.Stringer); ok {
		return s.String()
	}
	return cmd.Name()
}

// shortText cuts an instruction down for an error line.
func shortText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
