package devcgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoHierarchy is returned when no cgroup hierarchy can confine devices:
// neither a v1 devices controller nor cgroup v2 is mounted.
var ErrNoHierarchy = errors.New("no cgroup hierarchy with device control is mounted")

// hierarchy is where new cgroups go: below the caller's own cgroup, in
// the v1 devices hierarchy or in cgroup v2.
type hierarchy struct {
	v2  bool
	dir string // the caller's own cgroup
}

// mount is a cgroup filesystem from /proc/self/mountinfo.
type mount struct {
	root, point string // the cgroup it shows, and where
	v2          bool
	devices     bool // a v1 mount with the devices controller
}

// findHierarchies lists the hierarchies a cgroup can go in, best first:
// cgroup v2 (unified, or the unified part of a hybrid host), where a
// process is born into its cgroup (CLONE_INTO_CGROUP) or moved in for
// the price of a write, then the v1 devices controller, where moving a
// process waits for an RCU grace period, milliseconds on every step.
// want, when set, keeps only v1 ("v1") or v2 ("v2").
func findHierarchies(want string) ([]hierarchy, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	paths, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	var out []hierarchy
	var errs []error
	for _, v2 := range []bool{true, false} {
		if want == "v1" && v2 || want == "v2" && !v2 {
			continue
		}
		i := slices.IndexFunc(mounts, func(m mount) bool { return m.v2 == v2 && (v2 || m.devices) })
		if i < 0 {
			continue
		}
		key := "devices"
		if v2 {
			key = ""
		}
		path, ok := paths[key]
		if !ok {
			errs = append(errs, fmt.Errorf("devcgroup: /proc/self/cgroup names no %q cgroup", key))
			continue
		}
		dir, err := mounts[i].dir(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, hierarchy{v2: v2, dir: dir})
	}
	if len(out) == 0 {
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return nil, ErrNoHierarchy
	}
	return out, nil
}

// dir is where the mount shows cgroup path.
func (m mount) dir(path string) (string, error) {
	rel, ok := strings.CutPrefix(path, m.root)
	if m.root == "/" {
		rel, ok = path, true
	}
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		return "", fmt.Errorf("devcgroup: own cgroup %s lies outside the mount of %s at %s", path, m.root, m.point)
	}
	return filepath.Join(m.point, rel), nil
}

// cgroupMounts lists the cgroup filesystems of this mount namespace.
//
// A mountinfo line: 36 35 0:31 /root /mnt/point rw,relatime shared:9 - cgroup cgroup rw,devices
func cgroupMounts() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("devcgroup: %w", err)
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 {
			continue
		}
		m := mount{root: unescape(fields[3]), point: unescape(fields[4])}
		switch tail[0] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			m.devices = slices.Contains(strings.Split(tail[2], ","), "devices")
		default:
			continue
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("devcgroup: read mountinfo: %w", err)
	}
	return out, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	return strings.Trim(s, "01234567") == "" && s[0] <= '3'
}

// ownCgroups reads /proc/self/cgroup: the caller's cgroup path by v1
// controller ("devices", "cpu", ...), and by "" on cgroup v2.
//
//	5:devices:/docker/abc
//	0::/user.slice
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("devcgroup: %w", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}
