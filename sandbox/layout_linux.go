package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mybuild/mybuild/overlay"
)

// prepare lays out Scratch: the stub layer, and the overlay work dir and
// mount point.
func prepare(spec Spec) (*childConfig, error) {
	s := spec.Scratch
	for _, d := range []string{workDir, mergedDir} {
		if err := os.Mkdir(filepath.Join(s, d), 0o700); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	// The lower dirs do not change: each path is looked up once.
	binds, err := makeStubs(overlay.NewStack(spec.Lower...).Memoized(), filepath.Join(s, stubsDir), spec.Mounts)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := prepareMounts(s, spec.Mounts); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	lower, err := absDirs(spec.Lower)
	if err != nil {
		return nil, err
	}
	upper, err := filepath.Abs(spec.Upper)
	if err != nil {
		return nil, err
	}
	scratch, err := filepath.Abs(s)
	if err != nil {
		return nil, err
	}
	var filter []byte
	if spec.Security == SecuritySandbox {
		if filter, err = stepFilter(); err != nil {
			return nil, err
		}
	}
	return &childConfig{
		Scratch: scratch,
		Lower:   append([]string{filepath.Join(scratch, stubsDir)}, lower...),
		Upper:   upper,
		Binds:   binds,
		Args:    spec.Args,
		Env:     spec.Env,
		Dir:     spec.Dir,
		User:    spec.User,
		Network: spec.Network,
		Host:    spec.Hostname,
		Pipes:   spec.Pipes,
		Mounts:  spec.Mounts,

		Security: spec.Security,
		Seccomp:  filter,
		Linked:   linkedOverlays,
	}, nil
}

// prepareMounts lays out Scratch/mounts/<i>/ for each overlay mount: its
// mount point, a throw-away upper dir and work dir for when it may be
// written, and an empty dir for a read-only one of a single layer. Its
// Lower become absolute, repeats dropped.
func prepareMounts(scratch string, mounts []Mount) error {
	for i := range mounts {
		m := &mounts[i]
		if m.Kind != MountOverlay {
			continue
		}
		dir := filepath.Join(scratch, mountsDir, strconv.Itoa(i))
		for _, d := range []string{mergedDir, "upper", workDir, "empty"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
				return err
			}
		}
		lower, err := absDirs(m.Lower)
		if err != nil {
			return err
		}
		m.Lower = lower
	}
	return nil
}

// linkedOverlays makes every overlay through links and mount(2), as on
// kernels before 6.8: the tests set it to cover that path here.
var linkedOverlays = false

// absDirs is dirs made absolute, repeats dropped (see dedupe).
func absDirs(dirs []string) ([]string, error) {
	abs := make([]string, 0, len(dirs))
	for _, d := range dirs {
		a, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		abs = append(abs, a)
	}
	return dedupe(abs), nil
}

// dedupe drops every repeat of a layer dir but the newest. Overlayfs
// refuses a stack in which one dir appears twice (ELOOP), and an older
// repeat adds nothing: all it holds is already visible from the newer one
// above it. Identical layers, such as two empty ones, share a dir.
func dedupe(dirs []string) []string {
	seen := make(map[string]bool, len(dirs))
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}
