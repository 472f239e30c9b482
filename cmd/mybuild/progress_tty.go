package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/isolation"
	"github.com/mybuild/mybuild/registry"
)

// ttyProgress is the live view of a build on a terminal, as BuildKit's
// tty progress draws it: a header with the time spent, one line per
// step with its timer, the last lines of the output of each running or
// failed step under it, the pulls and pushes under way, and the
// warnings. It is redrawn in place ten times a second; finished steps
// take one line each. stop draws it a last time, whole.
type ttyProgress struct {
	mu        sync.Mutex
	w         io.Writer
	size      func() (cols, rows int)
	start     time.Time
	isolation string
	steps     []*ttyStep
	byID      map[stepID]*ttyStep
	blobs     []*registry.Progress // under way, in the order they began
	warnings  []string
	wrote     []string
	drawn     int // lines drawn last time, to go back up over
	// started says the view is drawn: from the first event on, so that a
	// process that only hands the build to another (the rootless mode's
	// user namespace) draws nothing.
	started bool
	stopped bool

	quit chan struct{}
	done chan struct{}
}

// stepState is where a step is.
type stepState int

const (
	stepRunning stepState = iota
	stepCached
	stepDone
	stepFailed
)

// ttyStep is one step of the view.
type ttyStep struct {
	title   string
	started time.Time
	took    time.Duration
	state   stepState
	tail    []string // the last lines of its output
	partial []byte   // a last line not ended yet
	miss    string   // why it missed, when an earlier record tells
	// layerFrom is the platform whose same step made the layer this
	// one took (build.StepResult.LayerFrom).
	layerFrom string
}

// tailLines is how many lines of a step's output the view keeps.
const tailLines = 6

// newTTYProgress makes the live view on w, a terminal; it is drawn from
// the first event on.
func newTTYProgress(w *os.File) *ttyProgress {
	p := &ttyProgress{
		w: w, byID: map[stepID]*ttyStep{},
		size: func() (int, int) {
			cols, rows, err := term.GetSize(int(w.Fd()))
			if err != nil {
				return 80, 25
			}
			return cols, rows
		},
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	return p
}

// event starts the view, at the first event. p.mu is held.
func (p *ttyProgress) event() {
	if p.started || p.stopped {
		return
	}
	p.started, p.start = true, time.Now()
	go p.loop()
}

var _ reporter = (*ttyProgress)(nil)

// isTerminal tells whether w is a terminal that can take the live view.
func isTerminal(w io.Writer) (*os.File, bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || os.Getenv("TERM") == "dumb" {
		return nil, false
	}
	return f, true
}

func (p *ttyProgress) loop() {
	defer close(p.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-tick.C:
			p.draw(false)
		}
	}
}

// stop ends the live view: it is drawn a last time, every line of it,
// and the terminal is left below it for what follows (the error, the
// digest).
func (p *ttyProgress) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	started := p.started
	p.mu.Unlock()
	if !started {
		return
	}
	close(p.quit)
	<-p.done
	p.draw(true)
}

func (p *ttyProgress) StepStarted(info build.StepInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.event()
	id := stepID{info.Platform, info.Stage, info.Index}
	s := &ttyStep{title: info.Label() + " " + oneLine(info.Instruction), started: time.Now()}
	if old, ok := p.byID[id]; ok {
		*old = *s
		return
	}
	p.byID[id] = s
	p.steps = append(p.steps, s)
}

func (p *ttyProgress) StepOutput(info build.StepInfo) io.Writer {
	return &ttyOutput{p: p, id: stepID{info.Platform, info.Stage, info.Index}}
}

func (p *ttyProgress) StepFinished(info build.StepInfo, res build.StepResult, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.byID[stepID{info.Platform, info.Stage, info.Index}]
	if !ok {
		return
	}
	s.took, s.layerFrom = res.Duration, res.LayerFrom
	switch {
	case err != nil:
		s.state = stepFailed
	case res.Cached:
		s.state = stepCached
	default:
		s.state = stepDone
	}
	if len(s.partial) > 0 {
		s.addLine(string(s.partial))
		s.partial = nil
	}
}

// StepMissed keeps why a step missed, shown under it to the end.
func (p *ttyProgress) StepMissed(info build.StepInfo, miss build.Miss) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.byID[stepID{info.Platform, info.Stage, info.Index}]; ok && miss.Earlier != "" {
		s.miss = miss.Reason
	}
}

func (p *ttyProgress) Warning(msg string) {
	p.mu.Lock()
	p.event()
	p.warnings = append(p.warnings, msg)
	p.mu.Unlock()
}

func (p *ttyProgress) Isolation(d isolation.Decision) {
	p.mu.Lock()
	p.event()
	p.isolation = fmt.Sprintf("[internal] isolation: %s (%s)", d.Mode, d.Reason)
	p.mu.Unlock()
}

func (p *ttyProgress) Wrote(dest string) {
	p.mu.Lock()
	p.event()
	p.wrote = append(p.wrote, dest)
	p.mu.Unlock()
}

// Blob keeps the blobs under way; one that is done leaves the view.
func (p *ttyProgress) Blob(e registry.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.event()
	finished := e.Skipped || e.Mounted || (e.Total > 0 && e.Done >= e.Total)
	for i, b := range p.blobs {
		if b.Ref == e.Ref && b.Digest == e.Digest {
			if finished {
				p.blobs = append(p.blobs[:i], p.blobs[i+1:]...)
			} else {
				*b = e
			}
			return
		}
	}
	if !finished {
		p.blobs = append(p.blobs, &e)
	}
}

// ttyOutput takes a running step's output into its tail.
type ttyOutput struct {
	p  *ttyProgress
	id stepID
}

func (o *ttyOutput) Write(b []byte) (int, error) {
	o.p.mu.Lock()
	defer o.p.mu.Unlock()
	s, ok := o.p.byID[o.id]
	if !ok {
		return len(b), nil
	}
	s.partial = append(s.partial, b...)
	for {
		i := strings.IndexAny(string(s.partial), "\r\n")
		if i < 0 {
			break
		}
		if line := string(s.partial[:i]); line != "" || s.partial[i] == '\n' {
			s.addLine(line)
		}
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) >= 4096 {
		s.addLine(string(s.partial))
		s.partial = nil
	}
	return len(b), nil
}

// escapes are the terminal control sequences a step may print (colours,
// cursor moves), which would upset the view: they are left out.
var escapes = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]`)

func (s *ttyStep) addLine(line string) {
	line = strings.ReplaceAll(escapes.ReplaceAllString(line, ""), "\t", "    ")
	s.tail = append(s.tail, line)
	if len(s.tail) > tailLines {
		s.tail = s.tail[len(s.tail)-tailLines:]
	}
}
