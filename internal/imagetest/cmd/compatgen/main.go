// Command compatgen builds every case of the compat goldens with an existing
// BuildKit and writes (or, with -check, verifies) each case's rootfs.golden
// and config.golden.json.
//
//	BUILDKIT_HOST=unix:///run/buildkit-ref/buildkitd.sock \
//	  go run ./internal/imagetest/cmd/compatgen [-dir build/testdata/compat] [-check] [case ...]
//
// It only calls buildctl ($BUILDCTL, else buildctl from $PATH); it never
// builds or starts BuildKit. With -show it prints the listing and the
// comparable config of any OCI image archive instead.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/internal/imagetest"
)

type options struct {
	dir      string
	check    bool
	noCache  bool
	keep     string
	buildctl string
	addr     string
	busybox  string
}

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", "build/testdata/compat", "directory of the compat cases")
	flag.BoolVar(&o.check, "check", false, "compare with the goldens instead of writing them")
	flag.BoolVar(&o.noCache, "no-cache", false, "pass --no-cache to buildctl")
	flag.StringVar(&o.keep, "keep", "", "directory to keep each case's image archive in, as <case>.tar")
	show := flag.String("show", "", "print the listing (no options) and comparable config of this OCI archive and exit")
	flag.Parse()

	if *show != "" {
		if err := showArchive(*show); err != nil {
			fatal(err)
		}
		return
	}
	if err := o.resolve(); err != nil {
		fatal(err)
	}
	cases := flag.Args()
	if len(cases) == 0 {
		var err error
		if cases, err = imagetest.CompatCases(o.dir); err != nil {
			fatal(err)
		}
	}
	var failed []string
	for _, c := range cases {
		if err := o.run(c); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", c, err)
			failed = append(failed, c)
		}
	}
	if len(failed) > 0 {
		fatal(fmt.Errorf("%d of %d cases failed: %s", len(failed), len(cases), strings.Join(failed, " ")))
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "compatgen:", err)
	os.Exit(1)
}

func (o *options) resolve() error {
	o.addr = os.Getenv("BUILDKIT_HOST")
	if o.addr == "" {
		return errors.New("BUILDKIT_HOST is not set (see /opt/buildkit/README)")
	}
	bin := os.Getenv("BUILDCTL")
	if bin == "" {
		bin = "buildctl"
	}
	var err error
	if o.buildctl, err = exec.LookPath(bin); err != nil {
		return fmt.Errorf("buildctl: %w (set BUILDCTL)", err)
	}
	o.busybox, err = imagetest.FindBusybox()
	return err
}

// run builds one case and writes or checks its goldens.
func (o *options) run(name string) (err error) {
	caseDir := filepath.Join(o.dir, name)
	tmp, err := os.MkdirTemp("", "compatgen-"+name+"-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	ctx := filepath.Join(tmp, "context")
	if err := os.Mkdir(ctx, 0o755); err != nil {
		return err
	}
	if err := imagetest.PrepareContext(caseDir, ctx, o.busybox); err != nil {
		return err
	}
	archive := filepath.Join(tmp, "image.tar")
	if o.keep != "" {
		archive = filepath.Join(o.keep, name+".tar")
	}
	if err := o.build(caseDir, ctx, archive); err != nil {
		return err
	}

	platforms, err := imagetest.CasePlatforms(caseDir)
	if err != nil {
		return err
	}
	if len(platforms) == 0 {
		return o.goldens(name, caseDir, archive, "")
	}
	var errs []error
	for _, p := range platforms {
		errs = append(errs, o.goldens(name, caseDir, archive, p))
	}
	return errors.Join(errs...)
}

// goldens writes or checks the goldens of the image of platform in
// archive (its only image when platform is "").
func (o *options) goldens(name, caseDir, archive, platform string) error {
	opts, err := imagetest.CompatListingOptions(o.dir, o.busybox)
	if err != nil {
		return err
	}
	var pick []imagetest.ImageOption
	rootfs, config := imagetest.RootfsGolden, imagetest.ConfigGolden
	if platform != "" {
		_, arch, _ := strings.Cut(platform, "/")
		pick = append(pick, imagetest.ForArch(arch))
		rootfs, config = imagetest.PlatformGolden(rootfs, platform), imagetest.PlatformGolden(config, platform)
		name += " " + platform
	}
	fsys, err := imagetest.Flatten(archive, pick...)
	if err != nil {
		return err
	}
	present, err := checkMountpoints(fsys, opts.Ignore)
	if err != nil {
		return err
	}
	cfg, err := imagetest.ReadConfig(archive, pick...)
	if err != nil {
		return err
	}
	comparable, err := imagetest.ComparableConfig(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d paths, %d layers, mount points left: %s\n",
		name, len(fsys.Paths()), len(cfg.RootFS.DiffIDs), strings.Join(present, " "))
	return errors.Join(
		o.output(filepath.Join(caseDir, rootfs), []byte(fsys.Listing(opts))),
		o.output(filepath.Join(caseDir, config), comparable),
	)
}

func (o *options) build(caseDir, ctx, archive string) error {
	args := []string{"--addr", o.addr, "build", "--progress=plain",
		"--frontend", "dockerfile.v0",
		"--local", "context=" + ctx, "--local", "dockerfile=" + ctx,
		"--output", "type=oci,dest=" + archive}
	buildArgs, target, err := imagetest.CaseOptions(caseDir)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(buildArgs))
	for k := range buildArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--opt", "build-arg:"+k+"="+buildArgs[k])
	}
	if target != "" {
		args = append(args, "--opt", "target="+target)
	}
	platforms, err := imagetest.CasePlatforms(caseDir)
	if err != nil {
		return err
	}
	if len(platforms) > 0 {
		args = append(args, "--opt", "platform="+strings.Join(platforms, ","))
	}
	if o.noCache {
		args = append(args, "--no-cache")
	}
	cmd := exec.Command(o.buildctl, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("buildctl build: %w\n%s", err, out.Bytes())
	}
	return nil
}

// checkMountpoints returns which of the ignored paths the image holds, and
// fails if one of them holds anything: ignoring must never hide content.
func checkMountpoints(fsys *imagetest.FS, ignore []string) ([]string, error) {
	paths := fsys.Paths()
	var present []string
	for _, p := range ignore {
		e, ok := fsys.Lookup(p)
		if !ok {
			continue
		}
		present = append(present, p)
		switch e.Type {
		case imagetest.TypeFile:
			if e.Size != 0 {
				return nil, fmt.Errorf("ignored mount point %s is a file of %d bytes", p, e.Size)
			}
		case imagetest.TypeDir:
			for _, q := range paths {
				if strings.HasPrefix(q, strings.TrimSuffix(p, "/")+"/") {
					return nil, fmt.Errorf("ignored mount point %s holds %s", p, q)
				}
			}
		default:
			return nil, fmt.Errorf("ignored mount point %s is a %s", p, e.Type)
		}
	}
	return present, nil
}

// output writes data to name, or with -check compares it with name.
func (o *options) output(name string, data []byte) error {
	if o.check {
		old, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if !bytes.Equal(old, data) {
			return fmt.Errorf("%s is out of date", name)
		}
		return nil
	}
	return atomicfile.Write(name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func showArchive(archive string) error {
	fsys, err := imagetest.Flatten(archive)
	if err != nil {
		return err
	}
	cfg, err := imagetest.ReadConfig(archive)
	if err != nil {
		return err
	}
	config, err := imagetest.ComparableConfig(cfg)
	if err != nil {
		return err
	}
	fmt.Print(fsys.Listing(imagetest.ListingOptions{}))
	_, err = os.Stdout.Write(config)
	return err
}
