package build

import (
	"context"
	"fmt"
	"slices"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/overlay"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// stage is the state of one stage while its steps run.
type stage struct {
	img image.Image
	// key chains the keys of every step so far.
	key digest.Digest
	// cmdSet records that CMD was set in this stage, which stops ENTRYPOINT
	// from clearing it.
	cmdSet bool
	// created is the creation time of the newest step.
	created *time.Time
	// unpacked is how many of img.Layers have dirs in dirs.
	dirs []string
}

// scratch is the empty image BuildKit starts FROM scratch with.
func scratch(platform ocispec.Platform) image.Image {
	var img image.Image
	img.Config.OS = platform.OS
	img.Config.Architecture = platform.Architecture
	img.Config.Variant = platform.Variant
	img.Config.RootFS.Type = "layers"
	img.Config.Config.WorkingDir = "/"
	img.Config.Config.Env = []string{defaultPath}
	return img
}

// fromKey keys a base image by its layer chain only: a base whose config
// alone changed keeps its key, and the steps that depend on the config
// (RUN, through env, user, working dir) key on those fields themselves.
func fromKey(img *image.Image, platform ocispec.Platform) digest.Digest {
	diffIDs := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		diffIDs[i] = l.DiffID.String()
	}
	return cache.NewKey("from").
		Strings("diff_ids", diffIDs).
		String("platform", image.FormatPlatform(platform)).
		Sum()
}

// lowerDirs returns the unpacked dirs of every layer so far, newest
// first, unpacking the layers that are not yet.
func (b *builder) lowerDirs(ctx context.Context, st *stage) ([]string, error) {
	for i := len(st.dirs); i < len(st.img.Layers); i++ {
		dir, err := b.unpack(ctx, st.img.Layers[i], st.dirs)
		if err != nil {
			return nil, err
		}
		st.dirs = append(st.dirs, dir)
	}
	dirs := slices.Clone(st.dirs)
	slices.Reverse(dirs)
	return dirs, nil
}

// stack is the merged view of every layer so far.
func (b *builder) stack(ctx context.Context, st *stage) (*overlay.Stack, error) {
	dirs, err := b.lowerDirs(ctx, st)
	if err != nil {
		return nil, err
	}
	return overlay.NewStack(dirs...), nil
}

// history appends the history entry of a step.
func (st *stage) history(createdBy string, layer bool, created time.Time) {
	created = created.UTC()
	st.img.Config.History = append(st.img.Config.History, ocispec.History{
		Created:    &created,
		CreatedBy:  createdBy,
		EmptyLayer: !layer,
	})
	st.created = &created
}

// finalConfig is the config of the finished image. Its creation time is
// that of the newest step, taken from the cache records, so a build that
// is all cache hits gives the same image as the one that filled the cache.
func (st *stage) finalConfig() dockerspec.DockerOCIImage {
	cfg := st.img.Config
	if st.created != nil {
		cfg.Created = st.created
	}
	return cfg
}

func errUnsupportedFrom(name string) error {
	return fmt.Errorf("FROM %s: pulling from a registry is not supported yet; use a local image: oci-archive:PATH[:REF], oci:DIR[:REF] or docker-archive:PATH", name)
}
