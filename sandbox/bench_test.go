package sandbox

import (
	"context"
	"testing"
)

// BenchmarkRunTrue measures the fixed cost of one sandboxed step.
func BenchmarkRunTrue(b *testing.B) {
	bb := busyboxLayer(b)
	for b.Loop() {
		upper, scratch := b.TempDir(), b.TempDir()
		err := Run(context.Background(), Spec{Lower: []string{bb}, Upper: upper, Scratch: scratch,
			Env: []string{"PATH=/bin"}, Args: []string{"/bin/true"}})
		if err != nil {
			b.Fatal(err)
		}
	}
}
