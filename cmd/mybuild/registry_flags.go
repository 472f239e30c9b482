package main

import (
	"flag"
	"fmt"
	"io"

	units "github.com/docker/go-units"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// registryFlags are the flags of build and run that say how a registry
// is reached.
type registryFlags struct {
	pull, platform string
	insecure       stringList
}

// register adds --pull, --platform (with the usage given) and
// --insecure-registry to fs.
func (f *registryFlags) register(fs *flag.FlagSet, platformUsage string) {
	fs.StringVar(&f.pull, "pull", "missing", "when to ask a registry for an image: `always`, missing (use the last resolution when it is unreachable) or never")
	fs.StringVar(&f.platform, "platform", "", platformUsage)
	fs.Var(&f.insecure, "insecure-registry", "reach `HOST[:PORT]` over plain HTTP; repeatable (localhost and 127.0.0.1 always are)")
}

// registrySettings are the registry flags, parsed.
type registrySettings struct {
	platform ocispec.Platform // zero: the host's
	pull     registry.PullPolicy
	opts     []registry.Option
}

// options parses the flags. progress, when not nil, gets a line for each
// blob pulled or pushed.
func (f *registryFlags) options(progress io.Writer) (*registrySettings, error) {
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
	if progress != nil {
		s.opts = append(s.opts, registry.WithProgress(blobProgress(progress)))
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
