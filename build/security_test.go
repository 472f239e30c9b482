package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
	"golang.org/x/sys/unix"
)

// insecureDockerfile records a confined step's and an insecure step's
// effective capabilities in the image.
const insecureDockerfile = busyboxPrelude + `RUN grep CapEff /proc/self/status >/confined
RUN --security=insecure grep CapEff /proc/self/status >/insecure
`

// An insecure step needs the entitlement: without it the build fails
// before any step runs, with one line naming the step and the flag.
func TestInsecureNeedsTheEntitlement(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": insecureDockerfile}))
	rep := &countingReporter{}
	_, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) { o.Reporter = rep })
	want := "Dockerfile:5: [5/5] RUN --security=insecure grep CapEff /proc/self/status >/insecure: " +
		"--security=insecure needs the security.insecure entitlement: run mybuild with --allow security.insecure"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if rep.started != 0 {
		t.Errorf("%d steps started before the build failed", rep.started)
	}
}

// Granted security.insecure, the insecure step has every capability the
// builder has; the step before it Docker's default set.
func TestInsecureWithTheEntitlement(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": insecureDockerfile}))
	out, _ := testBuild(t, dir, t.TempDir(), func(o *Options) { o.Allow = []Entitlement{EntitlementSecurityInsecure} })
	fsys, err := imagetest.Flatten(out)
	if err != nil {
		t.Fatal(err)
	}
	var data [2]unix.CapUserData
	if err := unix.Capget(&unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}, &data[0]); err != nil {
		t.Fatal(err)
	}
	own := uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)
	for path, caps := range map[string]string{"/confined": "00000000a80425fb", "/insecure": fmt.Sprintf("%016x", own)} {
		e, ok := fsys.Lookup(path)
		sum := sha256.Sum256([]byte("CapEff:\t" + caps + "\n"))
		if !ok || e.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s does not hold CapEff %s (entry %+v)", path, caps, e)
		}
	}
}

// A hostile step is held by Docker's confinement: it cannot mount, write
// /proc/sys or open a kernel-log node it made, and the host's loopback
// stays as it is.
func TestHostileRunStep(t *testing.T) {
	df := busyboxPrelude + `RUN mkdir -p /tmp /mnt && mknod /tmp/kmsg c 1 11 && \
	( mount -t tmpfs tmpfs /mnt 2>/dev/null && echo mounted; \
	  echo 1 2>/dev/null >/proc/sys/vm/drop_caches && echo wrote; \
	  true 2>/dev/null </tmp/kmsg && echo opened; \
	  ip addr add 127.0.0.98/32 dev lo 2>/dev/null && echo reconfigured; \
	  echo done ) >/result && rm /tmp/kmsg
`
	t.Cleanup(func() { _ = exec.Command("/bin/busybox", "ip", "addr", "del", "127.0.0.98/32", "dev", "lo").Run() })
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	out, _ := testBuild(t, dir, t.TempDir())
	fsys, err := imagetest.Flatten(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("done\n"))
	if e, ok := fsys.Lookup("/result"); !ok || e.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("the step did more than it may: /result is %+v", e)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := lo.Addrs()
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), "127.0.0.98/") {
			t.Errorf("the step added %s to the host's lo", a)
		}
	}
}

// countingReporter counts started steps.
type countingReporter struct {
	discardReporter
	mu      sync.Mutex
	started int
}

func (r *countingReporter) StepStarted(StepInfo) {
	r.mu.Lock()
	r.started++
	r.mu.Unlock()
}

// An ONBUILD trigger of a base image is held to the same rule when the
// stage that inherits it runs.
func TestInsecureTriggerNeedsTheEntitlement(t *testing.T) {
	base := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "ONBUILD RUN --security=insecure true\n"}))
	archive, _ := testBuild(t, base, t.TempDir())
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM oci-archive:" + archive + "\nRUN true\n"})
	_, _, err := tryBuild(t, dir, t.TempDir())
	want := "Dockerfile:1: [2/3] ONBUILD RUN --security=insecure true: --security=insecure needs the security.insecure entitlement"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v\nwant %s...", err, want)
	}
	testBuild(t, dir, t.TempDir(), func(o *Options) { o.Allow = []Entitlement{EntitlementSecurityInsecure} })
}

// limitedDriver is the overlay driver claiming fewer features, as a
// driver that builds in place would: the build must refuse what it cannot
// do before any step runs.
type limitedDriver struct {
	rootfs.Driver
	features rootfs.Features
}

func (d limitedDriver) Features() rootfs.Features { return d.features }

func TestPreflightRefusesWhatTheDriverCannot(t *testing.T) {
	df := busyboxPrelude + "RUN echo first >/first\nRUN --mount=type=cache,target=/c true\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	rep := &countingReporter{}
	_, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) {
		o.Reporter = rep
		o.Driver = limitedDriver{rootfs.NewOverlay(o.Store), rootfs.Features{Name: "test", Mounts: []string{"bind"}, Networks: []sandbox.Network{sandbox.NetworkHost}}}
	})
	want := "Dockerfile:5: [5/5] RUN --mount=type=cache,target=/c true: RUN --mount=type=cache is not supported in the test mode"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if rep.started != 0 {
		t.Errorf("%d steps started", rep.started)
	}
}

// A mount type in a variable is known only when the step runs: the step
// refuses it then.
func TestUnsupportedMountInAVariable(t *testing.T) {
	df := busyboxPrelude + "ARG T=cache\nRUN --mount=type=$T,target=/c true\n"
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": df}))
	_, _, err := tryBuild(t, dir, t.TempDir(), func(o *Options) {
		o.Driver = limitedDriver{rootfs.NewOverlay(o.Store), rootfs.Features{Name: "test", Mounts: []string{"bind"}, Networks: []sandbox.Network{sandbox.NetworkHost}}}
	})
	want := "Dockerfile:5: [5/5] RUN --mount=type=$T,target=/c true: RUN --mount=type=cache is not supported in the test mode"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}
