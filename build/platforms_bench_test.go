package build

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BenchmarkPlatformsCopy builds a COPY-only Dockerfile (a context of
// 3,000 files, 16 MB of text) into an empty cache, for one platform and
// for two: FROM scratch, and FROM a base that is another image for each
// platform (so that every key differs between the two, and only the
// COPY's layer, the same diffID, can be shared). The target: two
// cost at most 1.3× one, since the steps do not depend on the platform.
//
//	go test -run XXX -bench PlatformsCopy -benchtime 5x -count 3 ./build
func BenchmarkPlatformsCopy(b *testing.B) {
	dir := textContext(b, 1)
	amd64, arm64 := ocispec.Platform{OS: "linux", Architecture: "amd64"}, ocispec.Platform{OS: "linux", Architecture: "arm64"}
	bases := map[string]string{"scratch": "scratch", "per-arch-base": archBases(b, amd64, arm64)}
	for _, base := range []string{"scratch", "per-arch-base"} {
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+bases[base]+"\nCOPY src /src\nCOPY Dockerfile /etc/\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		for _, bc := range []struct {
			name      string
			platforms []ocispec.Platform
		}{{"one", []ocispec.Platform{amd64}}, {"two", []ocispec.Platform{amd64, arm64}}} {
			b.Run(base+"/"+bc.name, func(b *testing.B) {
				var cpu time.Duration
				for range b.N {
					b.StopTimer()
					store, err := cache.Open(context.Background(), b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					out := filepath.Join(b.TempDir(), "image.tar")
					before := cpuTime(b)
					b.StartTimer()
					_, err = Build(context.Background(), Options{
						Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir, Store: store, Platforms: bc.platforms,
						Outputs: []transport.Ref{{Transport: transport.OCIArchive, Path: out}},
					})
					b.StopTimer()
					cpu += cpuTime(b) - before
					store.Close()
					if err != nil {
						b.Fatal(err)
					}
				}
				// CPU time is steadier than wall time on a shared machine.
				b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			})
		}
	}
}

// archBases is an OCI layout whose index holds, for each platform, an
// image of one small file that names it: a base that differs by platform.
func archBases(b *testing.B, platforms ...ocispec.Platform) string {
	dir := b.TempDir()
	df := "FROM scratch\nARG TARGETARCH\nCOPY arch-$TARGETARCH /arch\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, p := range platforms {
		if err := os.WriteFile(filepath.Join(dir, "arch-"+p.Architecture), []byte(p.Architecture+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	store, err := cache.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	layout := filepath.Join(b.TempDir(), "base")
	if _, err := Build(context.Background(), Options{
		Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir, Store: store, Platforms: platforms,
		Outputs: []transport.Ref{{Transport: transport.OCILayout, Path: layout, Name: "base"}},
	}); err != nil {
		b.Fatal(err)
	}
	return "oci:" + layout + ":base"
}

// textContext makes a context of 3,000 files of text in src/, in 30
// dirs, 16 MB in all, the same for the same seed.
func textContext(b *testing.B, seed uint64) string {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	raw := make([]byte, 4096)
	for i := range 3000 {
		for j := range raw {
			raw[j] = byte(rng.IntN(64))
		}
		p := filepath.Join(dir, "src", fmt.Sprintf("d%02d", i%30), fmt.Sprintf("f%04d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(raw)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// cpuTime is the user and system time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
