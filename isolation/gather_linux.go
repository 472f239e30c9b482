package isolation

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	mobyuser "github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/sandbox"
)

// MarkerName is the name of the in-place marker file, beside the binary.
const MarkerName = "in-place"

// Gather finds the facts of this machine. The probes start children in
// new namespaces: the process must call sandbox.Main first thing.
func Gather(ctx context.Context) Facts {
	f := gatherFiles()
	f.Namespaces = sandbox.ProbeNamespaces(ctx)
	f.UserNamespace = sandbox.ProbeUserNamespace(ctx)
	return f
}

// Decide is Check of mode on this machine's facts, probing only what the
// decision rests on, and cheaply: root, where namespaces work, costs a
// thread's unshare and mount; forcing in place, nothing. A normal user's
// build goes rootless without a probe (it is the only mode a user can
// have): EnterRootless and the rootless driver report what is refused.
// The facts not probed are left nil.
func Decide(ctx context.Context, mode Mode, force bool) (Decision, Facts, error) {
	f := gatherFiles()
	if InRootless() && (mode == Auto || mode == Rootless) {
		return rootlessDecision(), f, nil
	}
	if f.UID == 0 && (mode == Auto || mode == Namespaces) {
		f.Namespaces = sandbox.ProbeNamespaces(ctx)
	}
	if f.UID == 0 && mode == Rootless {
		f.UserNamespace = sandbox.ProbeUserNamespace(ctx)
	}
	d, err := Check(f, mode, force)
	return d, f, err
}

// gatherFiles finds the facts that need no probe.
func gatherFiles() Facts {
	f := Facts{UID: os.Getuid(), GID: os.Getgid(), Kernel: kernelRelease()}
	f.User = strconv.Itoa(f.UID)
	if u, err := user.LookupId(f.User); err == nil {
		f.User = u.Username
	}
	f.SubUIDs = subIDs("/etc/subuid", f.User, f.UID)
	f.SubGIDs = subIDs("/etc/subgid", f.User, f.UID)
	f.NewUIDMap, _ = exec.LookPath("newuidmap")
	f.NewGIDMap, _ = exec.LookPath("newgidmap")
	f.Markers = containerMarkers()
	f.InPlaceMarker = markerPath()
	if fi, err := os.Stat(f.InPlaceMarker); err == nil && fi.Mode().IsRegular() {
		f.HasInPlaceMarker = true
	}
	return f
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// subIDs are the ranges of file for the user, by name or by id, as
// newuidmap reads them.
func subIDs(file, name string, uid int) []IDRange {
	ids, err := mobyuser.ParseSubIDFileFilter(file, func(s mobyuser.SubID) bool {
		return s.Name == name || s.Name == strconv.Itoa(uid)
	})
	if err != nil {
		return nil
	}
	out := make([]IDRange, len(ids))
	for i, s := range ids {
		out[i] = IDRange{Start: s.SubID, Count: s.Count}
	}
	return out
}

// markerPath is where the in-place marker of this binary would be.
func markerPath() string {
	exe, err := os.Executable()
	if err != nil {
		return MarkerName
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Join(filepath.Dir(exe), MarkerName)
}

// runtimes are the container runtimes whose names show in cgroup paths.
var runtimes = []string{"docker", "kubepods", "containerd", "libpod", "lxc", "buildkit"}

// containerMarkers lists the signs of a container this process sees.
func containerMarkers() []string {
	var out []string
	for _, p := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	if env, err := os.ReadFile("/proc/1/environ"); err == nil {
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok {
				out = append(out, "container="+string(v))
			}
		}
	} else if v, ok := os.LookupEnv("container"); ok {
		out = append(out, "container="+v)
	}
	if cg, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(cg), "\n") {
			for _, r := range runtimes {
				if strings.Contains(line, "/"+r) || strings.Contains(line, r+"-") {
					out = append(out, "cgroup "+line)
					break
				}
			}
		}
	}
	return out
}
