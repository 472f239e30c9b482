package build

import (
	"context"
	"fmt"
	"maps"
	"slices"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layerdiff"
)

// ExportKind is the form an Export takes.
type ExportKind int

const (
	// ExportDir writes the files into a directory (type=local).
	ExportDir ExportKind = iota + 1
	// ExportTar writes them as one tar file (type=tar).
	ExportTar
)

// Export is a copy of the target stage's root filesystem: the "export
// build artefacts" outputs, such as a FROM scratch stage that copies a
// binary from another one. Files keep the owners, modes and times the
// image gives them.
type Export struct {
	Kind ExportKind
	// Dest is the directory, or the tar file, written.
	Dest string
}

func (e Export) String() string {
	if e.Kind == ExportTar {
		return "type=tar,dest=" + e.Dest
	}
	return "type=local,dest=" + e.Dest
}

// export writes st's root filesystem to every export: package fswrite
// writes a directory, package layerdiff a tar (atomically, and with its
// times clamped to the source date epoch, as layers are).
func (b *builder) export(ctx context.Context, st *stage) error {
	if len(b.opts.Exports) == 0 {
		return nil
	}
	stack, err := b.stack(ctx, st)
	if err != nil {
		return err
	}
	var opts []layerdiff.Option
	if b.epoch != nil {
		opts = append(opts, layerdiff.WithSourceDateEpoch(*b.epoch))
	}
	for _, e := range b.opts.Exports {
		switch e.Kind {
		case ExportDir:
			err = fswrite.Export(ctx, stack, e.Dest)
		case ExportTar:
			err = layerdiff.WriteRootFile(ctx, e.Dest, stack, opts...)
		default:
			err = fmt.Errorf("unknown export kind %d", e.Kind)
		}
		if err != nil {
			return fmt.Errorf("output %s: %w", e, err)
		}
	}
	return nil
}

// labelChange is Options.Labels as the config change a LABEL step makes,
// in name order, so that the config is the same whatever the map's order.
func labelChange(labels map[string]string) *ConfigChange {
	if len(labels) == 0 {
		return nil
	}
	c := &ConfigChange{}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		c.Labels = append(c.Labels, [2]string{k, labels[k]})
	}
	return c
}

// imageConfig is the config of the image written: the target stage's
// final config, with the labels of Options.
func (b *builder) imageConfig(st *stage) dockerspec.DockerOCIImage {
	cfg := st.finalConfig(b.epoch)
	if ch := labelChange(b.opts.Labels); ch != nil {
		cfg = cloneConfig(cfg)
		ch.apply(&cfg)
	}
	return cfg
}
