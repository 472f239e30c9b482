package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/isolation"
	"github.com/mybuild/mybuild/registry"
	digest "github.com/opencontainers/go-digest"
)

// The rawjson events, in the JSON form of BuildKit's client.SolveStatus,
// which buildx --progress=rawjson prints: one object per event, on a line
// of its own. A step is a vertex; its digest names the step (stage and
// index), not an LLB operation.
type (
	jsonStatus struct {
		Vertexes []jsonVertex       `json:"vertexes,omitempty"`
		Statuses []jsonVertexStatus `json:"statuses,omitempty"`
		Logs     []jsonLog          `json:"logs,omitempty"`
		Warnings []jsonWarning      `json:"warnings,omitempty"`
	}
	jsonVertex struct {
		Digest    digest.Digest `json:"digest,omitempty"`
		Name      string        `json:"name,omitempty"`
		Started   *time.Time    `json:"started,omitempty"`
		Completed *time.Time    `json:"completed,omitempty"`
		Cached    bool          `json:"cached,omitempty"`
		Error     string        `json:"error,omitempty"`
	}
	jsonVertexStatus struct {
		ID        string    `json:"id"`
		Name      string    `json:"name,omitempty"`
		Total     int64     `json:"total,omitempty"`
		Current   int64     `json:"current"`
		Timestamp time.Time `json:"timestamp"`
	}
	jsonLog struct {
		Vertex    digest.Digest `json:"vertex,omitempty"`
		Stream    int           `json:"stream,omitempty"`
		Data      []byte        `json:"data"`
		Timestamp time.Time     `json:"timestamp"`
	}
	jsonWarning struct {
		Level int    `json:"level,omitempty"`
		Short []byte `json:"short,omitempty"`
	}
)

// jsonProgress is --progress=rawjson.
type jsonProgress struct {
	mu      sync.Mutex
	enc     *json.Encoder
	started map[digest.Digest]time.Time
	// out are the output writers of running steps, to flush a last line
	// when the step ends.
	out map[digest.Digest]*jsonLogWriter
	// isolation is the isolation vertex, sent before the first step's.
	isolation *jsonVertex
}

var _ reporter = (*jsonProgress)(nil)

func newJSONProgress(w io.Writer) *jsonProgress {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonProgress{enc: enc, started: map[digest.Digest]time.Time{}, out: map[digest.Digest]*jsonLogWriter{}}
}

func (p *jsonProgress) emit(s jsonStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.enc.Encode(s) // a progress stream that fails does not fail the build
}

// vertexDigest names a step, the same in every build of the Dockerfile;
// the platform is a field in a multi-platform build only.
func vertexDigest(info build.StepInfo) digest.Digest {
	k := cache.NewKey("progress").String("stage", info.Stage).String("index", strconv.Itoa(info.Index))
	if info.Platform != "" {
		k.String("platform", info.Platform)
	}
	return k.Sum()
}

func vertexName(info build.StepInfo) string {
	return info.Label() + " " + oneLine(info.Instruction)
}

// flushIsolation sends the isolation vertex, once, before anything else.
func (p *jsonProgress) flushIsolation() {
	p.mu.Lock()
	iso := p.isolation
	p.isolation = nil
	p.mu.Unlock()
	if iso != nil {
		p.emit(jsonStatus{Vertexes: []jsonVertex{*iso}})
	}
}

func (p *jsonProgress) StepStarted(info build.StepInfo) {
	p.flushIsolation()
	d, now := vertexDigest(info), time.Now().UTC()
	p.mu.Lock()
	p.started[d] = now
	p.mu.Unlock()
	p.emit(jsonStatus{Vertexes: []jsonVertex{{Digest: d, Name: vertexName(info), Started: &now}}})
}

func (p *jsonProgress) StepOutput(info build.StepInfo) io.Writer {
	w := &jsonLogWriter{p: p, vertex: vertexDigest(info)}
	p.mu.Lock()
	p.out[w.vertex] = w
	p.mu.Unlock()
	return w
}

func (p *jsonProgress) StepFinished(info build.StepInfo, res build.StepResult, err error) {
	d, now := vertexDigest(info), time.Now().UTC()
	p.mu.Lock()
	start, ok := p.started[d]
	w := p.out[d]
	delete(p.out, d)
	p.mu.Unlock()
	if w != nil {
		w.flush()
	}
	if !ok {
		start = now
	}
	v := jsonVertex{Digest: d, Name: vertexName(info), Started: &start, Completed: &now, Cached: err == nil && res.Cached}
	if err != nil {
		v.Error = err.Error()
	}
	p.emit(jsonStatus{Vertexes: []jsonVertex{v}})
}

// StepMissed is a log line of the step, before its output, when an
// earlier record tells why it missed: "MISS 1 file changed: a.go".
func (p *jsonProgress) StepMissed(info build.StepInfo, miss build.Miss) {
	if miss.Earlier == "" {
		return
	}
	line := []byte("MISS " + miss.Reason + "\n")
	p.emit(jsonStatus{Logs: []jsonLog{{Vertex: vertexDigest(info), Stream: 1, Data: line, Timestamp: time.Now().UTC()}}})
}

func (p *jsonProgress) Warning(msg string) {
	p.flushIsolation()
	p.emit(jsonStatus{Warnings: []jsonWarning{{Level: 1, Short: []byte(msg)}}})
}

// Isolation is a vertex of its own, done at once, as BuildKit shows its
// internal steps. It is sent before the first step or warning: a
// Dockerfile that fails to parse gets its one line of error alone.
func (p *jsonProgress) Isolation(d isolation.Decision) {
	now := time.Now().UTC()
	name := fmt.Sprintf("[internal] isolation: %s (%s)", d.Mode, d.Reason)
	p.mu.Lock()
	p.isolation = &jsonVertex{Digest: digest.FromString("isolation"), Name: name, Started: &now, Completed: &now}
	p.mu.Unlock()
}

// Wrote is a status of its own: the output's name, done.
func (p *jsonProgress) Wrote(dest string) {
	p.emit(jsonStatus{Statuses: []jsonVertexStatus{{ID: "wrote " + dest, Name: "wrote " + dest, Timestamp: time.Now().UTC()}}})
}

// Blob is a status per blob event, with the bytes done of the total.
func (p *jsonProgress) Blob(e registry.Progress) {
	id := e.Ref + " " + e.Digest.String()
	p.emit(jsonStatus{Statuses: []jsonVertexStatus{{ID: id, Name: id, Total: e.Total, Current: e.Done, Timestamp: time.Now().UTC()}}})
}

// jsonLogWriter makes a log event of each line of a step's output; what
// is left of a last line without "\n" waits for the next write.
type jsonLogWriter struct {
	p      *jsonProgress
	vertex digest.Digest
	mu     sync.Mutex
	buf    []byte
}

func (w *jsonLogWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		switch {
		case i >= 0:
			w.log(i + 1)
		case len(w.buf) >= 4096: // a line that never ends shows up once it is long
			w.log(len(w.buf))
		default:
			return len(b), nil
		}
	}
}

// log emits the first n bytes of the buffer.
func (w *jsonLogWriter) log(n int) {
	line := bytes.Clone(w.buf[:n])
	w.buf = w.buf[n:]
	w.p.emit(jsonStatus{Logs: []jsonLog{{Vertex: w.vertex, Stream: 1, Data: line, Timestamp: time.Now().UTC()}}})
}

// flush emits what is left of a last line without "\n".
func (w *jsonLogWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.log(len(w.buf))
	}
}
