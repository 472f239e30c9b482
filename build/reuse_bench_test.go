package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/transport"
)

// BenchmarkCopyEdit times the build that follows a one-file edit of a
// COPY's 3,000 files (16 MB of text): with the unchanged files linked
// from the COPY's earlier layer, as builds do, and with every file
// written again, as a driver that cannot link them does.
//
//	go test -run XXX -bench CopyEdit -benchtime 10x -count 3 ./build
func BenchmarkCopyEdit(b *testing.B) {
	dir := textContext(b, 3)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY src /src\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	edited := filepath.Join(dir, "src", "d00", "f0000.txt")
	for _, bc := range []struct {
		name  string
		links bool
	}{{"links", true}, {"copies", false}} {
		b.Run(bc.name, func(b *testing.B) {
			store, err := cache.Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			out := filepath.Join(b.TempDir(), "image.tar")
			overlay := rootfs.NewOverlay(store)
			opts := Options{
				Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir, Store: store,
				Driver:  linksDriver{Driver: overlay, links: bc.links},
				Outputs: []transport.Ref{{Transport: transport.OCIArchive, Path: out}},
			}
			if _, err := Build(context.Background(), opts); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				if err := os.WriteFile(edited, []byte(fmt.Sprintf("edit %d of %s\n", i, bc.name)), 0o644); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := Build(context.Background(), opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// linksDriver is a driver that says whether new layers may link the
// files of unpacked ones, whatever the driver it wraps says.
type linksDriver struct {
	rootfs.Driver
	links bool
}

func (d linksDriver) Features() rootfs.Features {
	f := d.Driver.Features()
	f.LinksLayers = d.links
	return f
}
