package cache

import (
	"fmt"
	"testing"
)

// BenchmarkKey computes the key of a RUN step with a typical environment.
func BenchmarkKey(b *testing.B) {
	env := make([]string, 20)
	for i := range env {
		env[i] = fmt.Sprintf("VAR_%d=/some/value/of/moderate/length/%d", i, i)
	}
	args := []string{"/bin/sh", "-c", "apt-get update && apt-get install -y build-essential git curl"}
	for b.Loop() {
		NewKey("run").
			String("parent", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").
			String("instruction", args[2]).
			Strings("args", args).Strings("env", env).
			String("user", "").String("workdir", "/src").
			String("network", "host").String("platform", "linux/amd64").
			Sum()
	}
}

// BenchmarkFileKey keys one context file, as the file list of a COPY's
// record does for each file it copies.
func BenchmarkFileKey(b *testing.B) {
	for _, c := range []struct {
		name string
		new  func(string) *KeyBuilder
	}{{"NewKey", NewKey}, {"NewSum", NewSum}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.new("file").String("mode", "100644").String("owner", "0:0").String("size", "12345").
					String("link", "").String("content", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").
					String("rdev", "0").Sum()
			}
		})
	}
}
