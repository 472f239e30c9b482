package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

// The raised GC target holds while the live heap is small, and the
// default comes back, after a collection, once it is not. The live heap
// is the test's to say: other tests of the package allocate meanwhile.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(defaultGOGC))
	percent := func() int {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	t.Setenv("GOGC", "")
	tuneGC()
	if got := percent(); got != defaultGOGC {
		t.Fatalf("with GOGC set, the GC percent is %d", got)
	}

	var live atomic.Uint64
	defer func(old func() uint64) { liveHeap = old }(liveHeap)
	liveHeap = live.Load
	live.Store(smallHeap / 2)
	unsetGOGC(t)
	tuneGC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond) // for the cleanup to run
	if got := percent(); got != smallHeapGOGC {
		t.Fatalf("GC percent %d with a small heap, want %d", got, smallHeapGOGC)
	}
	live.Store(smallHeap + 1)
	deadline := time.Now().Add(5 * time.Second)
	for percent() != defaultGOGC && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if got := percent(); got != defaultGOGC {
		t.Errorf("GC percent %d with the live heap past smallHeap, want the default back", got)
	}
}

// unsetGOGC unsets GOGC for the rest of the test.
func unsetGOGC(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
}
