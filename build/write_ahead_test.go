package build

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/rootfs"
)

// heldUnpack is the overlay driver with every Unpack held until a root
// is made on no layers (the one writeBeforeBase writes a COPY in while
// the base is unpacked), so that the COPY surely starts first. It counts
// the roots rebased on their layers.
type heldUnpack struct {
	rootfs.Driver
	release  chan struct{}
	once     sync.Once
	mu       sync.Mutex
	attempts int // roots made on no layer
	rebased  int
}

func newHeldUnpack(d rootfs.Driver) *heldUnpack {
	return &heldUnpack{Driver: d, release: make(chan struct{})}
}

func (d *heldUnpack) Unpack(ctx context.Context, l layer.Layer, below []rootfs.Layer) (rootfs.Layer, error) {
	select {
	case <-d.release:
	case <-ctx.Done():
		return rootfs.Layer{}, ctx.Err()
	case <-time.After(10 * time.Second):
		// No COPY came first: the build goes on, and the test fails on
		// the count.
	}
	return d.Driver.Unpack(ctx, l, below)
}

func (d *heldUnpack) Root(ctx context.Context, lower []rootfs.Layer) (rootfs.Root, error) {
	r, err := d.Driver.Root(ctx, lower)
	if err != nil || len(lower) > 0 {
		return r, err
	}
	d.once.Do(func() { close(d.release) })
	d.mu.Lock()
	d.attempts++
	d.mu.Unlock()
	return &countRebase{Root: r, d: d}, nil
}

// noRebase is the overlay driver whose roots cannot be rebased: every
// COPY waits for its base.
type noRebase struct{ rootfs.Driver }

func (d noRebase) Root(ctx context.Context, lower []rootfs.Layer) (rootfs.Root, error) {
	r, err := d.Driver.Root(ctx, lower)
	return struct{ rootfs.Root }{r}, err
}

type countRebase struct {
	rootfs.Root
	d *heldUnpack
}

func (r *countRebase) Rebase(lower []rootfs.Layer) error {
	r.d.mu.Lock()
	r.d.rebased++
	r.d.mu.Unlock()
	return r.Root.(rootfs.Rebaser).Rebase(lower)
}

// A COPY that starts while its base is still being unpacked writes on no
// layer, and its layer stands when the base has nothing where it looked:
// the image is the one a COPY after the unpacking makes, byte for byte,
// and the RUN after it sees the base and the copy. Where the base has
// something (the COPY goes into its /opt), the layer is written again on
// the base, with the same result as ever: its /opt keeps the base's
// mode; a heredoc is copied as well the second time. A COPY to "/" is
// kept (the root is always there), and a step after the base is
// unpacked is not written ahead.
func TestCopyBeforeBaseUnpacked(t *testing.T) {
	baseDir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "RUN mkdir -m 0700 /opt\n"}))
	base, _ := testBuild(t, baseDir, t.TempDir())
	epoch := time.Unix(1700000000, 0)
	for _, c := range []struct {
		name, copy        string
		attempts, rebased int
	}{
		{"fresh dir", "COPY app /app\nRUN ls -ln /app > /listing && stat -c '%a %u' / >> /listing\n", 1, 1},
		{"into /", "COPY app/conf /\nRUN cat /conf > /listing\n", 1, 1},
		{"dir of the base", "COPY app/conf /opt/\nRUN cat /opt/conf > /listing && stat -c %a /opt >> /listing\n", 1, 0},
		// Written twice, from sources the first writing added to.
		{"heredoc", "COPY <<EOF /opt/h\nhello\nEOF\nRUN cat /opt/h > /listing\n", 1, 0},
		// The base is unpacked by the second COPY: it is not written
		// ahead, nor is the WORKDIR.
		{"base unpacked", "COPY app /app\nCOPY app/conf /etc/conf\nWORKDIR /w\nRUN cat /etc/conf > /listing\n", 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := contextDir(t, map[string]string{
				"Dockerfile": "FROM oci-archive:" + base + "\n" + c.copy,
				"app/conf":   "k=v\n", "app/sub/file": "f\n",
			})
			var digests []string
			var held *heldUnpack
			for _, hold := range []bool{false, true} {
				out, res := testBuild(t, dir, t.TempDir(), func(o *Options) {
					o.SourceDateEpoch = &epoch
					if hold {
						held = newHeldUnpack(rootfs.NewOverlay(o.Store))
						o.Driver = held
					} else {
						o.Driver = noRebase{rootfs.NewOverlay(o.Store)}
					}
				})
				digests = append(digests, res.ImageDigest.String())
				fsys, err := imagetest.Flatten(out)
				if err != nil {
					t.Fatal(err)
				}
				if e, ok := fsys.Lookup("/listing"); !ok || e.Size == 0 {
					t.Error("the RUN after the COPY listed nothing")
				}
			}
			if digests[0] != digests[1] {
				t.Errorf("image %s with the COPY written while the base was unpacked, %s after", digests[1], digests[0])
			}
			if held.attempts != c.attempts || held.rebased != c.rebased {
				t.Errorf("%d steps written before the base was unpacked, %d kept; want %d, %d", held.attempts, held.rebased, c.attempts, c.rebased)
			}
		})
	}
}
