package main

import (
	"fmt"
	"io"

	units "github.com/docker/go-units"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// registrySettings are the build's registry flags, parsed.
type registrySettings struct {
	platform  ocispec.Platform
	pull      registry.PullPolicy
	opts      []registry.Option
	cacheRepo *registry.CacheRepo
}

func (f *buildFlags) registryOptions(progress io.Writer) (*registrySettings, error) {
	s := &registrySettings{}
	var err error
	if s.pull, err = registry.ParsePullPolicy(f.pull); err != nil {
		return nil, usagef("--pull: %v", err)
	}
	if f.platform != "" {
		if s.platform, err = image.ParsePlatform(f.platform); err != nil {
			return nil, usagef("--platform: %v", err)
		}
	}
	if len(f.insecure) > 0 {
		s.opts = append(s.opts, registry.WithInsecure(f.insecure...))
	}
	if !f.quiet {
		s.opts = append(s.opts, registry.WithProgress(blobProgress(progress)))
	}
	if f.cacheRepo != "" {
		opts := append([]registry.Option{}, s.opts...)
		if s.platform.OS != "" {
			opts = append(opts, registry.WithPlatform(s.platform))
		}
		if s.cacheRepo, err = registry.NewCacheRepo(f.cacheRepo, f.cacheTTL, f.repoReadOnly, opts...); err != nil {
			return nil, usagef("--cache-repo: %v", err)
		}
	}
	return s, nil
}

// blobProgress prints one line per blob a pull or a push has finished
// with. The registry package never calls it from two goroutines at once.
func blobProgress(w io.Writer) func(registry.Progress) {
	return func(p registry.Progress) {
		what := ""
		switch {
		case p.Skipped:
			what = "already there"
		case p.Mounted:
			what = "mounted"
		case p.Done == p.Total && p.Total > 0:
			what = units.HumanSize(float64(p.Total))
		default:
			return
		}
		fmt.Fprintf(w, "%s: %s %s\n", p.Ref, p.Digest.Encoded()[:12], what)
	}
}
