package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The GC target while the live heap is small: the heap may grow to five
// times what is live, not twice.
const (
	smallHeapGOGC = 400
	defaultGOGC   = 100
)

// smallHeap is the live heap above which the runtime's default comes
// back: at most five times this much is allocated before a collection.
// At 64 MB, a build of 200,000 files (bench's manyfiles) peaked at 346
// MiB against 165 MiB with the default.
var smallHeap uint64 = 16 << 20

// tuneGC raises the GC target while the live heap is small, as it stays
// through most builds: a build allocates most of what it keeps early (the
// Dockerfile's parse, the records and seals it reads), and with the
// default target a 30-step build that reruns one step collected four
// times in its first 25 ms, at about 2 ms of its wall time. Once the live
// heap passes smallHeap, after a collection, the default comes back, so
// a build of a large context keeps the default's footprint. GOGC set in
// the environment is left as it is.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(smallHeapGOGC)
	watchHeap()
}

// gcTick is allocated for each collection to free: its cleanup runs
// after that collection, looks at the live heap, and allocates the next.
type gcTick struct{ _ [16]byte }

func watchHeap() {
	runtime.AddCleanup(&gcTick{}, func(struct{}) {
		if liveHeap() > smallHeap {
			debug.SetGCPercent(defaultGOGC)
			return
		}
		watchHeap()
	}, struct{}{})
}

// liveHeap is the heap the last collection found live.
var liveHeap = func() uint64 {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	if live[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return live[0].Value.Uint64()
}
