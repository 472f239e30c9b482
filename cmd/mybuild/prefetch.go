package main

import (
	"context"
	"path/filepath"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/registry"
)

// startPrefetch has the registries of the bases the last build of this
// Dockerfile asked about asked again now, in the background, while the
// isolation is decided and the Dockerfile parsed (see
// registry.Prefetcher), and gives the build of opts the answers, as
// buildOptions gives them to every build it makes from then on. Not
// with --pull=never, which asks no registry.
func (o *buildOptions) startPrefetch(ctx context.Context, opts *build.Options) {
	if opts.Pull == registry.PullNever {
		return
	}
	o.prefetcher = registry.StartPrefetch(ctx, o.cacheDir, prefetchKey(opts.Dockerfile), opts.Registry...)
	o.usePrefetcher(opts)
}

// usePrefetcher gives a build the answers asked ahead, if any. Every
// build the command makes takes them (buildOptions calls it): the one
// that succeeds keeps what its pulls asked for the next
// (Prefetcher.Remember), and one that had not taken them would forget.
func (o *buildOptions) usePrefetcher(opts *build.Options) {
	if o.prefetcher != nil {
		opts.Registry = append(opts.Registry, registry.WithPrefetcher(o.prefetcher))
	}
}

// prefetchKey names the Dockerfile a build reads: its absolute path,
// which an edit of the file keeps.
func prefetchKey(dockerfile string) string {
	p, err := filepath.Abs(dockerfile)
	if err != nil {
		return ""
	}
	return p
}
