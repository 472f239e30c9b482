package imagetest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// The layout of the compatibility goldens (build/testdata/compat): one
// directory per case holding a Dockerfile, its context files and the
// goldens, plus a list of sandbox mount points shared by all cases.
const (
	RootfsGolden       = "rootfs.golden"
	ConfigGolden       = "config.golden.json"
	MountpointsFile    = "mountpoints.txt"
	BusyboxPlaceholder = "<busybox>"
	// BusyboxInContext is the name under which busybox is added to a
	// case's build context.
	BusyboxInContext = "busybox"
)

// CompatCases returns the sorted names of the case directories of
// compatDir: those that hold a Dockerfile.
func CompatCases(compatDir string) ([]string, error) {
	ents, err := os.ReadDir(compatDir)
	if err != nil {
		return nil, err
	}
	var cases []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(compatDir, e.Name(), "Dockerfile")); err == nil {
			cases = append(cases, e.Name())
		}
	}
	return cases, nil
}

// CompatListingOptions returns the options the compat goldens are listed
// with: the paths of compatDir/mountpoints.txt ignored, and the content of
// busybox renamed BusyboxPlaceholder.
func CompatListingOptions(compatDir, busybox string) (ListingOptions, error) {
	ignore, err := ReadPathList(filepath.Join(compatDir, MountpointsFile))
	if err != nil {
		return ListingOptions{}, err
	}
	sum, err := fileSHA256(busybox)
	if err != nil {
		return ListingOptions{}, err
	}
	return ListingOptions{Ignore: ignore, Rename: map[string]string{sum: BusyboxPlaceholder}}, nil
}

// ReadPathList reads a file of absolute paths, one per line.
func ReadPathList(name string) (_ []string, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	var paths []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if !path.IsAbs(line) || path.Clean(line) != line {
			return nil, fmt.Errorf("%s: %q is not a clean absolute path", name, line)
		}
		paths = append(paths, line)
	}
	return paths, sc.Err()
}

// PrepareContext copies the files of caseDir, except its goldens, into the
// directory dst and adds busybox as BusyboxInContext. Modes are normalised
// (directories 0755, files 0644, or 0755 when any execute bit is set) so
// that COPY results do not depend on the umask of a checkout.
func PrepareContext(caseDir, dst, busybox string) error {
	src := os.DirFS(caseDir)
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		switch {
		case isGolden(p) || p == BusyboxInContext || isControlFile(p):
			return nil
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, 0o755) // not subject to the umask

		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			return copyFile(filepath.Join(caseDir, filepath.FromSlash(p)), target, mode)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(filepath.Join(caseDir, filepath.FromSlash(p)))
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			return fmt.Errorf("%s: only directories, regular files and symlinks may be in a case", p)
		}
	})
	if err != nil {
		return fmt.Errorf("prepare context from %s: %w", caseDir, err)
	}
	return copyFile(busybox, filepath.Join(dst, BusyboxInContext), 0o755)
}

// Context prepares the build context of the compat case at caseDir in a
// temporary directory (see PrepareContext) and returns that directory.
func Context(t testing.TB, caseDir string) string {
	t.Helper()
	dst := t.TempDir()
	if err := PrepareContext(caseDir, dst, Busybox(t)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// CompatOptions is CompatListingOptions for tests, with the static busybox.
func CompatOptions(t testing.TB, compatDir string) ListingOptions {
	t.Helper()
	opts, err := CompatListingOptions(compatDir, Busybox(t))
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

func copyFile(src, dst string, mode fs.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, in.Close()) }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		return errors.Join(err, out.Close())
	}
	if err := out.Chmod(mode); err != nil { // not subject to the umask
		return errors.Join(err, out.Close())
	}
	return out.Close()
}

func fileSHA256(name string) (_ string, err error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Control files of a case say how to build it and where mybuild differs on
// purpose. They are never part of its build context.
const (
	BuildArgsFile        = "build-args.txt"        // one K=V per line, as --build-arg
	TargetFile           = "target.txt"            // the stage to build
	DeviationsFile       = "deviations.txt"        // see build/compat_test.go
	ConfigDeviationsFile = "config-deviations.txt" // see build/compat_test.go
	PlatformsFile        = "platforms.txt"         // the platforms of a multi-platform case, comma separated
)

// PlatformGolden is the name of a golden of one platform of a
// multi-platform case: rootfs.linux_arm64.golden for RootfsGolden and
// linux/arm64.
func PlatformGolden(golden, platform string) string {
	base, ext, _ := strings.Cut(golden, ".")
	return base + "." + strings.ReplaceAll(platform, "/", "_") + "." + ext
}

// isGolden tells whether p, a path in a case, is a golden file.
func isGolden(p string) bool {
	return !strings.Contains(p, "/") &&
		(strings.HasPrefix(p, "rootfs.") && strings.HasSuffix(p, ".golden") ||
			strings.HasPrefix(p, "config.") && strings.HasSuffix(p, ".golden.json"))
}

// CasePlatforms reads the platforms of a multi-platform case: none for
// a case of the host's platform alone.
func CasePlatforms(caseDir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(caseDir, PlatformsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSpace(string(data)), ","), nil
}

func isControlFile(p string) bool {
	switch p {
	case BuildArgsFile, TargetFile, DeviationsFile, ConfigDeviationsFile, PlatformsFile:
		return true
	}
	return false
}

// CaseOptions reads the build args and target of a case, if it has them.
func CaseOptions(caseDir string) (buildArgs map[string]string, target string, err error) {
	buildArgs = map[string]string{}
	data, err := os.ReadFile(filepath.Join(caseDir, BuildArgsFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, "", fmt.Errorf("%s: %q is not K=V", BuildArgsFile, line)
		}
		buildArgs[k] = v
	}
	t, err := os.ReadFile(filepath.Join(caseDir, TargetFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	return buildArgs, strings.TrimSpace(string(t)), nil
}
