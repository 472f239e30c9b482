package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// bench holds what every workload needs.
type bench struct {
	mybuild string
	work    string
	runs    int
}

// sample is one timed build.
type sample struct {
	wall   time.Duration
	maxRSS int64 // bytes, of the mybuild process itself
}

// build runs mybuild once and measures it.
func (b *bench) build(args ...string) (sample, error) {
	cmd := exec.Command(b.mybuild, append([]string{"-q"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("mybuild %v: %v\n%s", args, err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return sample{wall: wall, maxRSS: ru.Maxrss * 1024}, nil
}

// result is the summary of one workload phase.
type result struct {
	Workload  string  `json:"workload"`
	Phase     string  `json:"phase"`
	Runs      int     `json:"runs"`
	MedianMS  float64 `json:"median_ms"`
	MinMS     float64 `json:"min_ms"`
	MaxMS     float64 `json:"max_ms"`
	MaxRSSMiB float64 `json:"peak_rss_mib"`
	Target    string  `json:"target,omitempty"`
}

func summarize(workload, phase, target string, samples []sample) result {
	walls := make([]float64, len(samples))
	var rss int64
	for i, s := range samples {
		walls[i] = float64(s.wall.Microseconds()) / 1000
		rss = max(rss, s.maxRSS)
	}
	sort.Float64s(walls)
	median := walls[len(walls)/2]
	if len(walls)%2 == 0 {
		median = (walls[len(walls)/2-1] + walls[len(walls)/2]) / 2
	}
	return result{
		Workload: workload, Phase: phase, Runs: len(samples),
		MedianMS: median, MinMS: walls[0], MaxMS: walls[len(walls)-1],
		MaxRSSMiB: float64(rss) / (1 << 20), Target: target,
	}
}

func markdown(rs []result) string {
	var b bytes.Buffer
	fmt.Fprintln(&b, "| Workload | Phase | Median | Min | Max | Peak RSS | Target |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.0f MiB | %s |\n",
			r.Workload, r.Phase, secs(r.MedianMS), secs(r.MinMS), secs(r.MaxMS), r.MaxRSSMiB, r.Target)
	}
	return b.String()
}

func secs(ms float64) string {
	return fmt.Sprintf("%.2f s", ms/1000)
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
