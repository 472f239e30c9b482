package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker/go-units"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/isolation"
	"github.com/mybuild/mybuild/registry"
)

// reporter is what a build reports to: its steps, the blobs its pulls
// and pushes move, and where it wrote its result.
type reporter interface {
	build.Reporter
	Blob(p registry.Progress)
	Wrote(dest string)
	// Isolation names the build's isolation mode and why: the first line.
	Isolation(d isolation.Decision)
}

// newReporter is the reporter --progress and -q ask for: auto and tty
// are the live view on a terminal, and plain elsewhere. A reporter that
// draws must be stopped (stopReporter) before anything else is written.
func newReporter(mode string, quiet bool, w io.Writer) (reporter, error) {
	switch {
	case quiet || mode == "quiet":
		return quietProgress{}, nil
	case mode == "auto" || mode == "tty":
		if f, ok := isTerminal(w); ok {
			return newTTYProgress(f), nil
		}
		return newProgress(w), nil
	case mode == "plain":
		return newProgress(w), nil
	case mode == "rawjson":
		return newJSONProgress(w), nil
	}
	return nil, usagef("--progress %s: unknown mode (want plain, quiet, rawjson, auto or tty)", mode)
}

// stopReporter ends a live view, drawn a last time.
func stopReporter(rep reporter) {
	if t, ok := rep.(*ttyProgress); ok {
		t.stop()
	}
}

// progress prints steps the way BuildKit's plain progress does:
//
//	#3 [3/5] RUN make
//	#3 compiling...
//	#3 DONE 1.2s
type progress struct {
	mu sync.Mutex
	w  io.Writer
	// seq numbers steps in the order they start, over all stages.
	seq  map[stepID]int
	next int
	// out holds the output writer of each running step, to flush its
	// last line when the step ends.
	out map[stepID]*prefixWriter
	// isolation is the line naming the isolation mode, printed before the
	// first step's.
	isolation string
	// blobs holds when a line was last printed of each blob under way.
	blobs map[string]time.Time
}

type stepID struct {
	platform, stage string
	index           int
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, seq: map[stepID]int{}, out: map[stepID]*prefixWriter{}, blobs: map[string]time.Time{}}
}

// number is the #N of a step, given when it starts.
func (p *progress) number(info build.StepInfo) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := stepID{info.Platform, info.Stage, info.Index}
	n, ok := p.seq[id]
	if !ok {
		p.next++
		n = p.next
		p.seq[id] = n
	}
	return n
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

func (p *progress) StepStarted(info build.StepInfo) {
	n := p.number(info)
	p.mu.Lock()
	iso := p.isolation
	p.isolation = ""
	p.mu.Unlock()
	p.printf("%s#%d %s %s\n", iso, n, info.Label(), oneLine(info.Instruction))
}

func (p *progress) StepOutput(info build.StepInfo) io.Writer {
	w := &prefixWriter{p: p, prefix: fmt.Sprintf("#%d ", p.number(info))}
	p.mu.Lock()
	p.out[stepID{info.Platform, info.Stage, info.Index}] = w
	p.mu.Unlock()
	return w
}

func (p *progress) StepFinished(info build.StepInfo, res build.StepResult, err error) {
	n := p.number(info)
	p.mu.Lock()
	id := stepID{info.Platform, info.Stage, info.Index}
	w := p.out[id]
	delete(p.out, id)
	p.mu.Unlock()
	if w != nil {
		w.flush()
	}
	switch {
	case err != nil:
		p.printf("#%d ERROR %.1fs\n", n, res.Duration.Seconds())
	case res.Cached:
		p.printf("#%d CACHED\n", n)
	default:
		if res.LayerFrom != "" {
			p.printf("#%d layer taken from %s\n", n, res.LayerFrom)
		}
		p.printf("#%d DONE %.1fs\n", n, res.Duration.Seconds())
	}
}

// StepMissed prints why a step missed, on a line of its own before its
// output, when an earlier record of it tells:
//
//	#3 MISS 1 file changed: fmt/print.go
func (p *progress) StepMissed(info build.StepInfo, miss build.Miss) {
	if miss.Earlier == "" {
		return // a step never built before, or --no-cache: nothing to tell
	}
	p.printf("#%d MISS %s\n", p.number(info), miss.Reason)
}

func (p *progress) Warning(msg string) {
	p.mu.Lock()
	iso := p.isolation
	p.isolation = ""
	p.mu.Unlock()
	p.printf("%sWARNING: %s\n", iso, msg)
}

// Isolation is printed before the first step or warning: a Dockerfile
// that fails to parse gets its one line of error alone.
func (p *progress) Isolation(d isolation.Decision) {
	p.mu.Lock()
	p.isolation = fmt.Sprintf("#0 isolation: %s (%s)\n", d.Mode, d.Reason)
	p.mu.Unlock()
}

func (p *progress) Wrote(dest string) { p.printf("wrote %s\n", dest) }

// Blob prints one line per blob a pull, a push, an unpacking or an
// archive's writing has finished with, and, for one under way for a
// second or more, a line with the bytes done of the total each second,
// as BuildKit's plain progress does.
func (p *progress) Blob(e registry.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := e.Ref + " " + e.Digest.String()
	if e.Skipped || e.Mounted || e.Total > 0 && e.Done >= e.Total {
		delete(p.blobs, key)
		blobProgress(p.w)(e)
		return
	}
	now := time.Now()
	last, ok := p.blobs[key]
	switch {
	case !ok:
		p.blobs[key] = now
	case now.Sub(last) >= time.Second:
		p.blobs[key] = now
		fmt.Fprintf(p.w, "%s: %s %s / %s\n", e.Ref, e.Digest.Encoded()[:12], units.HumanSize(float64(e.Done)), units.HumanSize(float64(e.Total)))
	}
}

// prefixWriter prefixes every line of a step's output with its number.
type prefixWriter struct {
	p      *progress
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.p.printf("%s%s\n", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	// A line that never ends still shows up once it is long.
	if len(w.buf) >= 4096 {
		w.p.printf("%s%s\n", w.prefix, w.buf)
		w.buf = w.buf[:0]
	}
	return len(b), nil
}

// flush prints what is left of a last line without "\n".
func (w *prefixWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.p.printf("%s%s\n", w.prefix, w.buf)
		w.buf = w.buf[:0]
	}
}

func oneLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// quietProgress prints nothing, not even warnings: -q promises only the
// digest on stdout, and errors on stderr.
type quietProgress struct{}

var _ reporter = quietProgress{}

func (quietProgress) Blob(registry.Progress)       {}
func (quietProgress) Isolation(isolation.Decision) {}
func (quietProgress) Wrote(string)                 {}

func (quietProgress) StepStarted(build.StepInfo)                           {}
func (quietProgress) StepOutput(build.StepInfo) io.Writer                  { return io.Discard }
func (quietProgress) StepFinished(build.StepInfo, build.StepResult, error) {}
func (quietProgress) Warning(string)                                       {}
