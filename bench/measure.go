package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// bench holds what every workload needs.
type bench struct {
	mybuild string
	work    string
	runs    int
	// modes are the isolation modes monorepo and steps are measured in.
	modes []mode
	// peers are the other builders monorepo and steps are measured
	// with (-peers); then every tool builds FROM debianRef or
	// busyboxRef, in registry.
	peers      []tool
	registry   *registry
	debianRef  string
	busyboxRef string
	// engine is the private Docker engine of the in-place modes, started
	// by the first of them.
	engine *engine
	// freshMemory, if not nil, empties the page cache but for the
	// inputs given, before each cold build (see freshMemory).
	freshMemory func(inputs ...string) error
}

// cleanups run when the bench ends, failed or not (the in-place mode's
// engine).
var cleanups []func()

// sample is one timed build.
type sample struct {
	wall   time.Duration
	maxRSS int64 // bytes, of the mybuild process itself
}

// build runs mybuild once, as root, and measures it.
func (b *bench) build(args ...string) (sample, error) {
	return timed(exec.Command(b.mybuild, append([]string{"-q"}, args...)...))
}

// result is the summary of one workload phase.
type result struct {
	Workload string `json:"workload"`
	// Tool is mybuild, buildkit or buildah, when peers are measured.
	Tool    string `json:"tool,omitempty"`
	Version string `json:"version,omitempty"` // a peer's
	// Mode is mybuild's isolation mode, when several are measured.
	Mode      string  `json:"mode,omitempty"`
	Phase     string  `json:"phase"`
	Runs      int     `json:"runs"`
	MedianMS  float64 `json:"median_ms"`
	MinMS     float64 `json:"min_ms"`
	MaxMS     float64 `json:"max_ms"`
	MaxRSSMiB float64 `json:"peak_rss_mib"`
	Target    string  `json:"target,omitempty"`
	// WallsMS are the runs' times, in the order run.
	WallsMS []float64 `json:"walls_ms"`
}

func summarize(workload, phase, target string, samples []sample) result {
	walls := make([]float64, len(samples))
	var rss int64
	for i, s := range samples {
		walls[i] = float64(s.wall.Microseconds()) / 1000
		rss = max(rss, s.maxRSS)
	}
	inOrder := slices.Clone(walls)
	sort.Float64s(walls)
	median := walls[len(walls)/2]
	if len(walls)%2 == 0 {
		median = (walls[len(walls)/2-1] + walls[len(walls)/2]) / 2
	}
	return result{
		Workload: workload, Phase: phase, Runs: len(samples),
		MedianMS: median, MinMS: walls[0], MaxMS: walls[len(walls)-1],
		MaxRSSMiB: float64(rss) / (1 << 20), Target: target, WallsMS: inOrder,
	}
}

// medianRatio is the median of a[i]/b[i].
func medianRatio(a, b []float64) float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		rs = append(rs, a[i]/b[i])
	}
	if len(rs) == 0 {
		return 0
	}
	sort.Float64s(rs)
	if len(rs)%2 == 0 {
		return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
	}
	return rs[len(rs)/2]
}

// freshDir empties dir. The old content is moved aside and deleted at the
// end: on some machines (online discard) a large delete slows the
// filesystem down for seconds, which would land in the next measurement.
func (b *bench) freshDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		trash, err := os.MkdirTemp(b.work, "trash-")
		if err != nil {
			return err
		}
		if err := os.Rename(dir, filepath.Join(trash, "old")); err != nil {
			return err
		}
	}
	return os.MkdirAll(dir, 0o755)
}

// emptyTrash deletes what freshDir moved aside.
func (b *bench) emptyTrash() error {
	old, err := filepath.Glob(filepath.Join(b.work, "trash-*"))
	if err != nil {
		return err
	}
	for _, d := range old {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

// cleanup runs the cleanups, once.
func cleanup() {
	for _, c := range cleanups {
		c()
	}
	cleanups = nil
}
