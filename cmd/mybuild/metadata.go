package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/internal/atomicfile"
	digest "github.com/opencontainers/go-digest"
)

// metadata is the --metadata-file document. Its schema is documented in
// docs/metadata.md; change both together.
type metadata struct {
	ImageDigest  digest.Digest  `json:"image_digest"`
	ConfigDigest digest.Digest  `json:"config_digest"`
	Steps        []stepMetadata `json:"steps"`
	// buildx's keys, which CI actions read: the manifest and config
	// digests again, and the image names, comma-separated.
	ContainerImageDigest       digest.Digest `json:"containerimage.digest"`
	ContainerImageConfigDigest digest.Digest `json:"containerimage.config.digest"`
	ImageName                  string        `json:"image.name,omitempty"`
}

type stepMetadata struct {
	Stage       string         `json:"stage"`
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
	Miss        *missMetadata  `json:"miss,omitempty"`
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
		ImageName: strings.Join(names, ","),
	}
	for _, s := range res.Steps {
		sm := stepMetadata{
			Stage: s.Stage, Index: s.Index, Instruction: s.Instruction, Line: s.Line, Key: s.Key,
			Cached: s.Cached, DurationMS: s.Duration.Milliseconds(),
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
	data, err := json.MarshalIndent(newMetadata(res, names), "", "  ")
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
