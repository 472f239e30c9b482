package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
)

// WriteText writes the inspection for people: the image's digests, size,
// platform and run settings, then its history as a table of layers,
// oldest first, as `docker history` shows it upside down. Empty-layer
// entries (ENV, CMD, ...) are marked "(empty)".
func (i *Inspection) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	cfg := i.Image.Config
	field := func(name, value string) {
		fmt.Fprintf(tw, "%s:\t%s\n", name, oneLine(value))
	}
	// list writes a field of several values, one per line.
	list := func(name string, values []string) {
		if len(values) == 0 {
			field(name, "-")
			return
		}
		field(name, values[0])
		for _, v := range values[1:] {
			fmt.Fprintf(tw, "\t%s\n", oneLine(v))
		}
	}
	field("Image", i.Reference)
	if i.Index != nil {
		field("Index", fmt.Sprintf("%s (%s)", i.Index.Digest, i.Index.MediaType))
		list("Platforms", i.Index.lines(i.Manifest.Digest))
	}
	field("Manifest", fmt.Sprintf("%s (%s)", i.Manifest.Digest, i.Manifest.MediaType))
	field("Config", i.Config.Digest.String())
	field("Size", fmt.Sprintf("%s (%d bytes)", humanSize(i.Size), i.Size))
	field("Created", formatTime(i.Image.Created))
	field("Platform", FormatPlatform(i.Image.Platform))
	if i.Image.Author != "" {
		field("Author", i.Image.Author)
	}
	field("User", orDash(cfg.User))
	field("WorkingDir", orDash(cfg.WorkingDir))
	field("Entrypoint", formatArgs(cfg.Entrypoint))
	field("Cmd", formatArgs(cfg.Cmd))
	if cfg.StopSignal != "" {
		field("StopSignal", cfg.StopSignal)
	}
	list("Env", cfg.Env)
	labels := make([]string, 0, len(cfg.Labels))
	for _, k := range slices.Sorted(maps.Keys(cfg.Labels)) {
		labels = append(labels, k+"="+cfg.Labels[k])
	}
	list("Labels", labels)
	list("Ports", slices.Sorted(maps.Keys(cfg.ExposedPorts)))
	if len(cfg.Volumes) > 0 {
		list("Volumes", slices.Sorted(maps.Keys(cfg.Volumes)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	return i.writeHistory(w)
}

// writeHistory writes one row per history entry and per layer.
func (i *Inspection) writeHistory(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tLAYER\tSIZE\tCREATED\tCOMMENT\tCREATED BY")
	for _, row := range i.History {
		num, layer, size := "", "(empty)", "0B"
		switch {
		case row.Layer != nil:
			num = fmt.Sprint(row.Layer.Index + 1)
			layer, size = shortDigest(row.Layer.Digest.Encoded()), humanSize(row.Layer.Size)
		case !row.History.EmptyLayer:
			layer, size = "(missing)", "-"
		}
		created, comment, createdBy := "-", "-", "-"
		if h := row.History; h != nil {
			created, comment, createdBy = formatTime(h.Created), orDash(oneLine(h.Comment)), orDash(oneLine(h.CreatedBy))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", num, layer, size, created, comment, createdBy)
	}
	return tw.Flush()
}

// humanSize is how docker history shows sizes.
func humanSize(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), 3)
}

func shortDigest(hex string) string {
	return hex[:min(len(hex), 12)]
}

func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// formatArgs shows an argument list as JSON, which keeps the boundaries
// between arguments visible.
func formatArgs(args []string) string {
	if args == nil {
		return "-"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(args); err != nil {
		return fmt.Sprint(args)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// oneLine keeps a table row on one line and its columns aligned.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
