package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/internal/atomicfile"
	digest "github.com/opencontainers/go-digest"
)

// metadata is the --metadata-file document. Its schema is documented in
// docs/metadata.md; change both together.
type metadata struct {
	// ImageDigest is the index's in a multi-platform build, which has no
	// config digest of its own.
	ImageDigest  digest.Digest `json:"image_digest"`
	ConfigDigest digest.Digest `json:"config_digest,omitempty"`
	// IndexDigest and Manifests are a multi-platform build's only.
	IndexDigest digest.Digest      `json:"index_digest,omitempty"`
	Manifests   []manifestMetadata `json:"manifests,omitempty"`
	Steps       []stepMetadata     `json:"steps"`
	// buildx's keys, which CI actions read: the manifest and config
	// digests again, and the image names, comma-separated.
	ContainerImageDigest       digest.Digest `json:"containerimage.digest"`
	ContainerImageConfigDigest digest.Digest `json:"containerimage.config.digest,omitempty"`
	ImageName                  string        `json:"image.name,omitempty"`
	// Provenance is the SLSA v1 predicate of the image's provenance
	// (--provenance), as buildx writes it; a single-platform build's only.
	Provenance json.RawMessage `json:"buildx.build.provenance,omitempty"`
	// PlatformProvenance is a multi-platform build's: buildx writes each
	// under "buildx.build.provenance/PLATFORM" (see marshal).
	PlatformProvenance map[string]json.RawMessage `json:"-"`
}

// marshal is the metadata as JSON, indented, with buildx's key of each
// platform's provenance after the others.
func (m metadata) marshal() ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil || len(m.PlatformProvenance) == 0 {
		return data, err
	}
	var b bytes.Buffer
	b.Write(bytes.TrimSuffix(data, []byte("\n}")))
	for _, p := range slices.Sorted(maps.Keys(m.PlatformProvenance)) {
		var v bytes.Buffer
		if err := json.Indent(&v, m.PlatformProvenance[p], "  ", "  "); err != nil {
			return nil, err
		}
		key, _ := json.Marshal("buildx.build.provenance/" + p)
		fmt.Fprintf(&b, ",\n  %s: %s", key, v.Bytes())
	}
	b.WriteString("\n}")
	return b.Bytes(), nil
}

// manifestMetadata is the image of one platform of a multi-platform
// build.
type manifestMetadata struct {
	Platform     string        `json:"platform"`
	Digest       digest.Digest `json:"digest"`
	ConfigDigest digest.Digest `json:"config_digest"`
}

type stepMetadata struct {
	Stage string `json:"stage"`
	// Platform is the platform the step was built for, in a
	// multi-platform build only.
	Platform    string         `json:"platform,omitempty"`
	Index       int            `json:"index"`
	Instruction string         `json:"instruction"`
	Line        int            `json:"line"`
	Key         digest.Digest  `json:"key"`
	Cached      bool           `json:"cached"`
	CacheSource *string        `json:"cache_source"`
	LayerDigest *digest.Digest `json:"layer_digest"`
	DiffID      *digest.Digest `json:"diff_id"`
	Size        int64          `json:"size"`
	DurationMS  int64          `json:"duration_ms"`
	// LayerFrom is the platform whose same step made the layer this one
	// took, in a multi-platform build.
	LayerFrom string        `json:"layer_from,omitempty"`
	Miss      *missMetadata `json:"miss,omitempty"`
}

// missMetadata says why a step that ran missed the cache.
type missMetadata struct {
	Reason       string        `json:"reason"`
	Changes      []string      `json:"changes"`
	ComparedWith digest.Digest `json:"compared_with,omitempty"`
	DecidedBy    string        `json:"decided_by,omitempty"`
}

func newMetadata(res *build.Result, names []string) metadata {
	m := metadata{
		ImageDigest: res.ImageDigest, ConfigDigest: res.ConfigDigest, Steps: []stepMetadata{},
		ContainerImageDigest: res.ImageDigest, ContainerImageConfigDigest: res.ConfigDigest,
		ImageName: strings.Join(names, ","), IndexDigest: res.IndexDigest,
	}
	if len(res.Provenance) == 1 && len(res.Manifests) == 1 {
		m.Provenance = res.Provenance[res.Manifests[0].Platform]
	} else if len(res.Provenance) > 0 {
		m.PlatformProvenance = res.Provenance
	}
	for _, pm := range res.Manifests {
		m.Manifests = append(m.Manifests, manifestMetadata{Platform: pm.Platform, Digest: pm.Digest, ConfigDigest: pm.ConfigDigest})
	}
	for _, s := range res.Steps {
		sm := stepMetadata{
			Stage: s.Stage, Platform: s.Platform, Index: s.Index, Instruction: s.Instruction, Line: s.Line, Key: s.Key,
			Cached: s.Cached, DurationMS: s.Duration.Milliseconds(), LayerFrom: s.LayerFrom,
		}
		if s.CacheSource != "" {
			src := s.CacheSource
			sm.CacheSource = &src
		}
		if s.Layer != nil {
			d, id := s.Layer.Digest, s.Layer.DiffID
			sm.LayerDigest, sm.DiffID, sm.Size = &d, &id, s.Layer.Size
		}
		if mi := s.Miss; mi != nil {
			sm.Miss = &missMetadata{Reason: mi.Reason, Changes: append([]string{}, mi.Changes...),
				ComparedWith: mi.Earlier, DecidedBy: mi.DecidedBy}
		}
		m.Steps = append(m.Steps, sm)
	}
	return m
}

// writeMetadata writes the file atomically. names are the image's.
func writeMetadata(path string, res *build.Result, names []string) error {
	data, err := newMetadata(res, names).marshal()
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("metadata file: %w", err)
	}
	return nil
}
