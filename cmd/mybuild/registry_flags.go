package main

import (
	"fmt"
	"io"
	"strings"

	units "github.com/docker/go-units"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"
)

// registryOptions are the flags of build and run that say how a registry
// is reached.
type registryOptions struct {
	pull     pullValue
	platform string
	insecure []string
	// multiPlatform lets --platform list several platforms, comma
	// separated: build takes them, run does not.
	multiPlatform bool
}

// register adds --pull, --platform (with the usage given) and
// --insecure-registry to fs.
func (o *registryOptions) register(fs *pflag.FlagSet, platformUsage string) {
	o.pull = pullValue(registry.PullMissing)
	f := fs.VarPF(&o.pull, "pull", "", "Always attempt to pull all referenced images. --pull=missing (the default) resolves a tag, and uses the last resolution when the registry is unreachable; --pull=never asks no registry")
	f.NoOptDefVal = "always"
	f.DefValue = "false" // shown as a boolean, as buildx's
	fs.StringVar(&o.platform, "platform", "", platformUsage)
	fs.StringArrayVar(&o.insecure, "insecure-registry", nil, "Reach this registry (HOST[:PORT]) over plain HTTP; localhost and 127.0.0.1 always are")
}

// pullValue is --pull: buildx's boolean (a bare --pull is always), or
// one of mybuild's policies, always, missing and never.
type pullValue string

func (p *pullValue) String() string { return string(*p) }
func (p *pullValue) Type() string   { return "bool" }

func (p *pullValue) Set(v string) error {
	switch v {
	case "true":
		v = string(registry.PullAlways)
	case "false":
		v = string(registry.PullMissing)
	}
	*p = pullValue(v)
	return nil
}

// registrySettings are the registry flags, parsed.
type registrySettings struct {
	platform ocispec.Platform // zero: the host's, or several
	// platforms are those --platform lists; one is platform.
	platforms []ocispec.Platform
	pull      registry.PullPolicy
	opts      []registry.Option
}

// settings parses the flags. progress, when not nil, gets each event of
// a pull or a push.
func (o *registryOptions) settings(progress func(registry.Progress)) (*registrySettings, error) {
	s := &registrySettings{}
	var err error
	if s.pull, err = registry.ParsePullPolicy(string(o.pull)); err != nil {
		return nil, usagef("--pull: %v", err)
	}
	if o.platform != "" {
		if s.platforms, err = o.parsePlatforms(); err != nil {
			return nil, err
		}
		if len(s.platforms) == 1 {
			s.platform = s.platforms[0]
		}
	}
	if len(o.insecure) > 0 {
		s.opts = append(s.opts, registry.WithInsecure(o.insecure...))
	}
	if progress != nil {
		s.opts = append(s.opts, registry.WithProgress(progress))
	}
	return s, nil
}

// parsePlatforms reads --platform: one platform, or with multiPlatform a
// comma-separated list, as buildx takes it.
func (o *registryOptions) parsePlatforms() ([]ocispec.Platform, error) {
	values := strings.Split(o.platform, ",")
	if len(values) > 1 && !o.multiPlatform {
		return nil, usagef("--platform %s: one platform only", o.platform)
	}
	out := make([]ocispec.Platform, 0, len(values))
	for _, v := range values {
		p, err := image.ParsePlatform(strings.TrimSpace(v))
		if err != nil {
			return nil, usagef("--platform: %v", err)
		}
		out = append(out, p)
	}
	return out, nil
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
