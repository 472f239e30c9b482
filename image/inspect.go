package image

import (
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Inspection describes an image, as `mybuild inspect` shows it.
type Inspection struct {
	// Reference names the image as it was given to Source.Inspect.
	Reference string `json:"reference"`
	// Manifest is the descriptor of the image manifest, and Config that
	// of its config. A docker-archive stores no manifest: for one, both
	// are those mybuild would write for the image (what loading the
	// archive, then WriteOCIArchive, gives), its config re-encoded and
	// its layers as the archive holds them.
	Manifest ocispec.Descriptor `json:"manifest"`
	Config   ocispec.Descriptor `json:"config"`
	// Size is the size of the manifest, the config and the layers, each
	// distinct blob counted once.
	Size  int64                     `json:"size"`
	Image dockerspec.DockerOCIImage `json:"image"`
	// Index is, for an image picked from an index for its platform, that
	// index and the images it lists; nil for an image named directly.
	Index *IndexInfo `json:"index,omitempty"`
	// History is the image's history, oldest first, each layer beside the
	// entry that made it, as `docker history` pairs them.
	History []HistoryRow `json:"history"`
}

// HistoryRow is one row of an image's history: a history entry and the
// layer it made, or an entry that made none (Layer nil; the entry's
// EmptyLayer says so, unless the image lists fewer layers than its
// history does), or a layer that no entry describes (History nil).
type HistoryRow struct {
	History *ocispec.History `json:"history,omitempty"`
	Layer   *LayerInfo       `json:"layer,omitempty"`
}

// LayerInfo is one layer of an inspected image.
type LayerInfo struct {
	// Index is the layer's position in the manifest, from 0.
	Index     int           `json:"index"`
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	DiffID    digest.Digest `json:"diffID"`
}

// NewInspection describes an image from what its manifest holds, with no
// layer blob needed: the manifest's descriptor, the config's descriptor
// and bytes, and the layers' descriptors as the manifest lists them.
// reference names the image for people. The config is decoded and its
// diffIDs paired with the layers; checking configJSON against its digest
// is the caller's job, as only the caller knows where the bytes came from
// (a docker-archive's config descriptor is that of the re-encoded config).
func NewInspection(reference string, manifest, config ocispec.Descriptor, configJSON []byte, layers []ocispec.Descriptor) (*Inspection, error) {
	img, err := NewImage(configJSON, layers)
	if err != nil {
		return nil, err
	}
	return newInspection(reference, manifest, config, img, layers), nil
}

// newInspection describes img, made of layers as the manifest lists them.
func newInspection(reference string, manifest, config ocispec.Descriptor, img *Image, layers []ocispec.Descriptor) *Inspection {
	i := &Inspection{
		Reference: reference,
		Manifest:  manifest,
		Config:    config,
		Size:      manifest.Size + config.Size,
		Image:     img.Config,
	}
	counted := map[digest.Digest]bool{}
	infos := make([]LayerInfo, len(layers))
	for n, d := range layers {
		infos[n] = LayerInfo{Index: n, MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, DiffID: img.Layers[n].DiffID}
		if !counted[d.Digest] {
			counted[d.Digest] = true
			i.Size += d.Size
		}
	}
	i.History = historyRows(img.Config.History, infos)
	return i
}

// historyRows pairs the history entries that made a layer with the
// layers, in order, as `docker history` does.
func historyRows(history []ocispec.History, layers []LayerInfo) []HistoryRow {
	rows := make([]HistoryRow, 0, len(history))
	next := 0
	for n := range history {
		row := HistoryRow{History: &history[n]}
		if !history[n].EmptyLayer && next < len(layers) {
			row.Layer = &layers[next]
			next++
		}
		rows = append(rows, row)
	}
	for ; next < len(layers); next++ {
		rows = append(rows, HistoryRow{Layer: &layers[next]})
	}
	return rows
}
