package imagetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// ReadConfig returns the config of the image in the OCI image archive (a
// tar of an OCI image layout, or such a layout as a directory).
func ReadConfig(archive string, opts ...ImageOption) (_ dockerspec.DockerOCIImage, err error) {
	l, err := openLayout(archive)
	if err != nil {
		return dockerspec.DockerOCIImage{}, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	img, err := loadImage(l, opts...)
	if err != nil {
		return dockerspec.DockerOCIImage{}, fmt.Errorf("%s: %w", archive, err)
	}
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(img.config, &cfg); err != nil {
		return dockerspec.DockerOCIImage{}, fmt.Errorf("%s: decode config: %w", archive, err)
	}
	return cfg, nil
}

// buildkitSuffix is what BuildKit appends to the created_by of steps that
// ran in its build (RUN, COPY, ADD), and not to metadata-only steps.
const buildkitSuffix = " # buildkit"

// ComparableConfig renders cfg as indented JSON with sorted keys, without
// what differs between two builds of one Dockerfile by two builders: the
// "created" times of the image and of each history entry, each history
// "comment", the " # buildkit" suffix of created_by, and the diff_ids (which
// depend on tar details such as mtimes), of which only the count is kept:
// "diff_ids": 3. Characters such as <, > and & are not escaped.
func ComparableConfig(cfg dockerspec.DockerOCIImage) ([]byte, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	delete(doc, "created")
	if history, ok := doc["history"].([]any); ok {
		for _, h := range history {
			h, ok := h.(map[string]any)
			if !ok {
				continue
			}
			delete(h, "created")
			delete(h, "comment")
			if by, ok := h["created_by"].(string); ok {
				h["created_by"] = strings.TrimSuffix(by, buildkitSuffix)
			}
		}
	}
	if rootfs, ok := doc["rootfs"].(map[string]any); ok {
		if ids, ok := rootfs["diff_ids"].([]any); ok {
			rootfs["diff_ids"] = len(ids)
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
