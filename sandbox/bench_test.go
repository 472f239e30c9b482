package sandbox

import (
	"context"
	"testing"
)

// BenchmarkRunTrue measures the fixed cost of one sandboxed step, confined
// (capabilities, seccomp filter, masked /proc, device cgroup) and not
// (--security=insecure, which skips all of them): the difference is what
// the confinement costs a step.
func BenchmarkRunTrue(b *testing.B) {
	benchmarkRun(b, "true")
}

// BenchmarkRunSyscalls runs a step that makes many syscalls (a few
// thousand file creations and removals), all through the seccomp filter
// when confined.
func BenchmarkRunSyscalls(b *testing.B) {
	benchmarkRun(b, `mkdir /d && cd /d && i=0; while [ $i -lt 2000 ]; do echo $i >$i; i=$((i+1)); done; cat * >/dev/null; rm -rf /d`)
}

func benchmarkRun(b *testing.B, script string) {
	bb := busyboxLayer(b)
	for _, sec := range []Security{SecuritySandbox, SecurityInsecure} {
		b.Run(string(sec), func(b *testing.B) {
			for b.Loop() {
				upper, scratch := b.TempDir(), b.TempDir()
				err := Run(context.Background(), Spec{Lower: []string{bb}, Upper: upper, Scratch: scratch, Process: Process{Env: []string{"PATH=/bin"}, Args: []string{"/bin/sh", "-c", script}, Security: sec}})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
