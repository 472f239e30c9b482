package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrInterrupted is returned when a signal came before the command
// started: loading or unpacking the image stopped there.
var ErrInterrupted = errors.New("interrupted")

// forceKillAfter is how many SIGINTs make a SIGKILL, as docker's CLI does
// for a command that ignores Ctrl-C (a PID 1 without a handler does).
const forceKillAfter = 3

// relay takes the caller's signals for a whole run. While the run is
// being prepared, a signal cancels it; once the command is about to start,
// each signal goes to it.
type relay struct {
	mu      sync.Mutex
	started bool
	first   os.Signal // the one that interrupted the preparation
	cancel  context.CancelFunc
	in      <-chan os.Signal
	out     chan os.Signal
	done    chan struct{}
	exited  chan struct{}
}

// newRelay starts relaying in, and returns the context of the preparation.
func newRelay(ctx context.Context, in <-chan os.Signal) (context.Context, *relay) {
	ctx, cancel := context.WithCancel(ctx)
	r := &relay{cancel: cancel, in: in, done: make(chan struct{}), exited: make(chan struct{})}
	if in == nil {
		close(r.exited)
		return ctx, r
	}
	r.out = make(chan os.Signal, 8)
	go r.loop()
	return ctx, r
}

func (r *relay) loop() {
	defer close(r.exited)
	ints := 0
	for {
		var sig os.Signal
		select {
		case <-r.done:
			return
		case sig = <-r.in:
		}
		r.mu.Lock()
		started := r.started
		if !started {
			r.interrupt(sig)
		}
		r.mu.Unlock()
		if !started {
			continue
		}
		if sig == syscall.SIGINT {
			if ints++; ints >= forceKillAfter {
				sig = syscall.SIGKILL
			}
		}
		select {
		case r.out <- sig:
		case <-r.done:
			return
		}
	}
}

// start ends the preparation: from now on signals go to the channel it
// returns, for the sandbox to forward. It fails with ErrInterrupted when
// a signal came first.
func (r *relay) start() (<-chan os.Signal, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Signals already waiting came before the start.
	for waiting := true; waiting; {
		select {
		case sig := <-r.in:
			r.interrupt(sig)
		default:
			waiting = false
		}
	}
	if err := r.interrupted(); err != nil {
		return nil, err
	}
	r.started = true
	return r.out, nil
}

// interrupt records the signal that stops the preparation; r.mu is held.
func (r *relay) interrupt(sig os.Signal) {
	if r.first == nil {
		r.first = sig
		r.cancel()
	}
}

// err is the error of a preparation that a signal stopped, or nil.
func (r *relay) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.interrupted()
}

func (r *relay) interrupted() error {
	if r.first == nil {
		return nil
	}
	name := r.first.String()
	if s, ok := r.first.(syscall.Signal); ok {
		name = unix.SignalName(s)
	}
	return fmt.Errorf("%w by %s before the command started", ErrInterrupted, name)
}

// stop ends the relay and releases its context.
func (r *relay) stop() {
	close(r.done)
	<-r.exited
	r.cancel()
}
