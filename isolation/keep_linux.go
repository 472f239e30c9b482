package isolation

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
)

// KeepInPlace lists what a build in place must leave alone in "/": paths
// (the cache dir, the context, the Dockerfile, the outputs and whatever
// else the build reads or writes outside the image), mybuild's own
// executable (its whole directory, when the in-place marker is there),
// SSL_CERT_FILE and SSL_CERT_DIR, /proc, /sys, /dev, and every mount
// point of /proc/self/mountinfo but "/" (/etc/hosts, /etc/resolv.conf,
// volumes, secrets).
func KeepInPlace(f Facts, paths ...string) ([]string, error) {
	keep := []string{"/proc", "/sys", "/dev"}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find mybuild's own files: %w", err)
	}
	keep = append(keep, exe)
	if f.HasInPlaceMarker {
		keep = append(keep, filepath.Dir(f.InPlaceMarker))
	}
	for _, env := range []string{"SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v := os.Getenv(env); v != "" {
			keep = append(keep, filepath.SplitList(v)...)
		}
	}
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil, fmt.Errorf("list mount points: %w", err)
	}
	for _, m := range mounts {
		if m.Mountpoint != "/" {
			keep = append(keep, m.Mountpoint)
		}
	}
	for _, p := range paths {
		if p != "" {
			keep = append(keep, p)
		}
	}
	out := make([]string, 0, len(keep))
	for _, p := range keep {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		out = append(out, abs)
		// A path reached through a symlink is left alone where it lies.
		if resolved, err := filepath.EvalSymlinks(abs); err == nil && resolved != abs {
			out = append(out, resolved)
		}
	}
	return out, nil
}
