package build

import (
	"testing"

	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
)

// prestartCounter is the Overlay driver, counting the inits a build asks
// it to start ahead.
type prestartCounter struct {
	*rootfs.Overlay
	started []sandbox.Process
}

func (d *prestartCounter) StartAhead(p sandbox.Process) {
	d.started = append(d.started, p)
	d.Overlay.StartAhead(p)
}

// A RUN that misses has its sandbox init started as soon as the miss is
// known, with its network and security, before its root is made; one
// that hits starts nothing.
func TestRunMissStartsItsInitAhead(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude +
		"RUN --network=none echo one > /one\n"}))
	cacheDir := t.TempDir()
	build := func() (*prestartCounter, *Result) {
		var d *prestartCounter
		_, res := testBuild(t, dir, cacheDir, func(o *Options) {
			d = &prestartCounter{Overlay: rootfs.NewOverlay(o.Store)}
			o.Driver = d
		})
		return d, res
	}
	d, res := build()
	if len(d.started) != 2 {
		t.Fatalf("a build of two RUN misses started %d inits ahead, want 2", len(d.started))
	}
	if p := d.started[1]; p.Network != sandbox.NetworkNone || p.Security != sandbox.SecuritySandbox {
		t.Errorf("the second RUN's init was started for network %q, security %q", p.Network, p.Security)
	}
	if res.Steps[len(res.Steps)-1].Cached {
		t.Fatal("the first build hit")
	}
	d, _ = build()
	if len(d.started) != 0 {
		t.Errorf("a build that hit every step started %d inits ahead", len(d.started))
	}
}
