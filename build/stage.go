package build

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// stage is the state of one stage while its steps run.
type stage struct {
	img image.Image
	// order sorts results.
	order int
	// platform is what the stage is built for.
	platform ocispec.Platform
	// env is what instructions expand with and RUN steps get: the config's
	// Env and the values of ARGs, as BuildKit's state env.
	env []string
	// buildArgs are the ARGs in scope, for the history text of RUN.
	buildArgs []instructions.KeyValuePairOptional
	// key chains the keys of every step so far.
	key digest.Digest
	// cmdSet records that CMD was set in this stage, which stops ENTRYPOINT
	// from clearing it.
	cmdSet bool
	// created is the creation time of the newest step.
	created *time.Time
	// base counts the first layers that come from a base image: they are
	// written out as they are, never recompressed.
	base int
	// unpacked are the first layers as the driver unpacked them, oldest
	// first. Stages that copy from a finished stage read it at the same
	// time: mu guards unpacked.
	unpacked []rootfs.Layer
	mu       *sync.Mutex
	// runsAhead: a RUN follows the step being made, in this stage. Once
	// a step missed, every later one misses too (its parent changed), so
	// the next RUN's sandbox can be started while this step runs.
	runsAhead bool
	// storeLater: the step being made is the build's last, whose record
	// is stored while the image is written (see storeLater).
	storeLater bool
	// onMiss, when set, is called as a step of the stage misses (see
	// startAheads).
	onMiss func()
	// unpacking, set by prefetch, is closed once it has unpacked the
	// base (see writeBeforeBase).
	unpacking <-chan struct{}

	// name is the stage's name, "stage-N" for an unnamed one, whatever
	// the number of stages built; contextDir is set for a named context
	// dir. Records keep them, to find the earlier record of a step.
	name, contextDir string
	// prevFrom and prevMissed say what the last step was, and firstMiss
	// names the first step that missed, in this stage or the ones it is
	// FROM: a miss that follows is explained by it.
	prevFrom, prevMissed bool
	firstMiss            string
}

// child starts a stage FROM this one. Everything is copied, so that two
// stages built at once from one base never share a slice or a map.
func (st *stage) child() *stage {
	c := *st
	c.img.Config = cloneConfig(st.img.Config)
	c.img.Layers = slices.Clone(st.img.Layers)
	c.env = slices.Clone(st.env)
	c.buildArgs = slices.Clone(st.buildArgs)
	st.mu.Lock()
	c.unpacked = slices.Clone(st.unpacked)
	st.mu.Unlock()
	c.mu = &sync.Mutex{}
	c.cmdSet = false
	c.onMiss, c.unpacking, c.storeLater = nil, nil, false
	return &c
}

// cloneConfig deep-copies an image config through its JSON form.
func cloneConfig(cfg dockerspec.DockerOCIImage) dockerspec.DockerOCIImage {
	data, err := json.Marshal(cfg)
	if err != nil {
		panic(fmt.Sprintf("image config does not encode: %v", err)) // only plain data in it
	}
	var out dockerspec.DockerOCIImage
	if err := json.Unmarshal(data, &out); err != nil {
		panic(fmt.Sprintf("image config does not decode: %v", err))
	}
	return out
}

// scratch is the empty image BuildKit starts FROM scratch with.
func scratch(platform ocispec.Platform) image.Image {
	var img image.Image
	img.Config.OS = platform.OS
	img.Config.Architecture = platform.Architecture
	img.Config.Variant = platform.Variant
	img.Config.RootFS.Type = "layers"
	img.Config.Config.WorkingDir = "/"
	img.Config.Config.Env = []string{sandbox.DefaultPath}
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

// lower returns every layer so far, unpacked by the driver, oldest first,
// unpacking the layers that are not yet.
func (b *builder) lower(ctx context.Context, st *stage) ([]rootfs.Layer, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := b.unpackLayers(ctx, st, st.img.Layers); err != nil {
		return nil, err
	}
	return slices.Clone(st.unpacked), nil
}

// unpackLayers unpacks the layers of layers that st has not unpacked
// yet, st.mu held: layers are st's, or the first of them.
func (b *builder) unpackLayers(ctx context.Context, st *stage, layers []layer.Layer) error {
	for i := len(st.unpacked); i < len(layers); i++ {
		uctx, work := b.unpacking(ctx, layers[i])
		l, err := b.driver.Unpack(uctx, layers[i], st.unpacked)
		if err != nil {
			return err
		}
		work.done()
		st.unpacked = append(st.unpacked, l)
	}
	return nil
}

// stack is the merged view of every layer so far.
func (b *builder) stack(ctx context.Context, st *stage) (*overlay.Stack, error) {
	layers, err := b.lower(ctx, st)
	if err != nil {
		return nil, err
	}
	return b.driver.View(ctx, layers)
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
// the source date epoch when there is one, else that of the newest step,
// taken from the cache records, so a build that is all cache hits gives
// the same image as the one that filled the cache.
func (st *stage) finalConfig(epoch *time.Time) dockerspec.DockerOCIImage {
	cfg := st.img.Config
	switch {
	case epoch != nil:
		cfg.Created = epoch
	case st.created != nil:
		cfg.Created = st.created
	}
	return cfg
}
