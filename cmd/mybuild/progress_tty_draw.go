package main

import (
	"fmt"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/morikuni/aec"
)

// draw redraws the view over the one drawn before. A live view shows no
// more lines than the terminal has, less one: the oldest steps go first,
// since a line that scrolled off cannot be gone back up to. The last
// view shows every line.
func (p *ttyProgress) draw(last bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cols, rows := p.size()
	lines := p.lines(last)
	if !last && len(lines) > rows-1 && rows > 2 {
		lines = append(lines[:1:1], lines[len(lines)-(rows-2):]...)
	}
	var b strings.Builder
	if p.drawn > 0 {
		b.WriteString(aec.Up(uint(p.drawn)).String())
	}
	for _, l := range lines {
		b.WriteString(fit(l, cols))
		b.WriteString(aec.EraseLine(aec.EraseModes.Tail).String())
		b.WriteString("\n")
	}
	// Lines of the last view that this one does not cover are blanked,
	// and the cursor goes back up to the end of this one.
	if extra := p.drawn - len(lines); extra > 0 {
		for range extra {
			b.WriteString(aec.EraseLine(aec.EraseModes.All).String() + "\n")
		}
		b.WriteString(aec.Up(uint(extra)).String())
	}
	p.drawn = len(lines)
	fmt.Fprint(p.w, b.String())
}

// lines is the view, one string per terminal line.
func (p *ttyProgress) lines(last bool) []string {
	now := time.Now()
	finished, total := 0, len(p.steps)
	for _, s := range p.steps {
		if s.state != stepRunning {
			finished++
		}
	}
	state := "Building"
	if last {
		state = "Finished"
	}
	out := []string{fmt.Sprintf("[+] %s %.1fs (%d/%d)", state, now.Sub(p.start).Seconds(), finished, total)}
	if p.isolation != "" {
		out = append(out, " => "+p.isolation)
	}
	for _, s := range p.steps {
		out = append(out, s.line(now))
		if s.miss != "" {
			out = append(out, " => => MISS "+s.miss)
		}
		if s.layerFrom != "" {
			out = append(out, " => => layer taken from "+s.layerFrom)
		}
		if s.state == stepRunning || s.state == stepFailed {
			for _, t := range s.tail {
				out = append(out, " => => # "+t)
			}
		}
	}
	for _, b := range p.blobs {
		out = append(out, fmt.Sprintf(" => => %s %s %s / %s", b.Ref, b.Digest.Encoded()[:12],
			units.HumanSize(float64(b.Done)), units.HumanSize(float64(b.Total))))
	}
	for _, d := range p.wrote {
		out = append(out, " => wrote "+d)
	}
	for _, w := range p.warnings {
		out = append(out, "WARNING: "+w)
	}
	return out
}

// line is a step's line: its state, title and time, the time at the
// right as BuildKit puts it (see fit).
func (s *ttyStep) line(now time.Time) string {
	took := s.took
	prefix := " => "
	switch s.state {
	case stepRunning:
		took = now.Sub(s.started)
	case stepCached:
		prefix += "CACHED "
	case stepFailed:
		prefix += "ERROR "
	}
	return prefix + s.title + "\t" + fmt.Sprintf("%.1fs", took.Seconds())
}

// fit makes l one terminal line of cols columns: a tab puts what follows
// it at the right edge, and what is too long is cut, since a line that
// wrapped would throw the count of lines to go back up over.
func fit(l string, cols int) string {
	if cols < 20 {
		cols = 20
	}
	cols-- // the last column wraps on some terminals
	left, right, tab := strings.Cut(l, "\t")
	if !tab {
		return cut(l, cols)
	}
	space := cols - len([]rune(right)) - 1
	if space < 1 {
		return cut(left, cols)
	}
	left = cut(left, space)
	return left + strings.Repeat(" ", space-len([]rune(left))+1) + right
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
