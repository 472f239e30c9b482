package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// The raised GC target holds while the live heap is small, and the
// default comes back once it is not.
func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(defaultGOGC))
	percent := func() int {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	// t.Setenv set GOGC, to "": tuneGC leaves a set GOGC alone.
	debug.SetGCPercent(defaultGOGC)
	tuneGC()
	if got := percent(); got != defaultGOGC {
		t.Fatalf("with GOGC set, the GC percent is %d", got)
	}

	defer func(old uint64) { smallHeap = old }(smallHeap)
	smallHeap = 8 << 20
	unsetGOGC(t)
	tuneGC()
	runtime.GC()
	if got := percent(); got != smallHeapGOGC {
		t.Fatalf("GC percent %d with a small heap, want %d", got, smallHeapGOGC)
	}
	live := make([]byte, 2*smallHeap)
	deadline := time.Now().Add(5 * time.Second)
	for percent() != defaultGOGC && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond) // for the cleanup to run
	}
	runtime.KeepAlive(live)
	if got := percent(); got != defaultGOGC {
		t.Errorf("GC percent %d with %d MB live, want the default back", got, len(live)>>20)
	}
}

// unsetGOGC unsets GOGC for the rest of the test.
func unsetGOGC(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
}
