package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// waitIdle waits, up to limit, for the machine to be idle, so that what
// a daemon still does after its own build (buildkitd, after a cold
// build, keeps a CPU busy for a second or more) is not timed in the
// next tool's build. Idle is under 5% of the CPU time busy, or waiting
// for the disk, over 200 ms. It says how long it waited.
func waitIdle(limit time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < limit {
		busy, total, ok := cpuTimes()
		time.Sleep(200 * time.Millisecond)
		busy2, total2, ok2 := cpuTimes()
		if !ok || !ok2 || (total2 > total && float64(busy2-busy)/float64(total2-total) < 0.05) {
			break
		}
	}
	return time.Since(start)
}

// cpuTimes reads the machine's CPU time from /proc/stat, in ticks: busy
// is all but idle.
func cpuTimes() (busy, total uint64, ok bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, false
	}
	var idle uint64
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i == 3 { // idle; iowait, next, counts as busy
			idle = v
		}
	}
	return total - idle, total, true
}
