package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/mybuild/mybuild/isolation"
	"github.com/spf13/cobra"
)

const infoLong = `Prints the isolation mode a build would run its steps in (what
--isolation=auto chooses) and why, with the facts behind the choice: the
user, the kernel, whether namespaces and mounts are allowed, whether a user
namespace can mount overlayfs, the subuid and subgid ranges, the container
markers seen, and the in-place marker.

Container markers never choose the in-place mode: only the marker file
beside the mybuild binary does, which mybuild's own image holds.`

// infoOptions are the flags of mybuild info.
type infoOptions struct{ json bool }

func newInfoCommand(s streams) *cobra.Command {
	o := &infoOptions{}
	cmd := &cobra.Command{
		Use:     "info [flags]",
		Short:   "Show the isolation mode builds would use here, and why",
		Long:    infoLong,
		Example: "  mybuild info\n  mybuild info --json",
		Args:    maxArgs(0, "arguments"),
		RunE: func(*cobra.Command, []string) error {
			return withInterrupt(func(ctx context.Context) error { return runInfo(ctx, o, s.out) })
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "Print the facts and the choice as JSON")
	return cmd
}

// infoReport is what mybuild info prints.
type infoReport struct {
	Isolation     string              `json:"isolation"`
	Reason        string              `json:"reason,omitempty"`
	Error         string              `json:"error,omitempty"`
	User          string              `json:"user"`
	UID           int                 `json:"uid"`
	Kernel        string              `json:"kernel"`
	Namespaces    string              `json:"namespaces"`
	UserNamespace string              `json:"userNamespace"`
	SubUIDs       []isolation.IDRange `json:"subuids"`
	SubGIDs       []isolation.IDRange `json:"subgids"`
	NewUIDMap     string              `json:"newuidmap"`
	NewGIDMap     string              `json:"newgidmap"`
	Markers       []string            `json:"containerMarkers"`
	InPlaceMarker string              `json:"inPlaceMarker"`
	HasMarker     bool                `json:"inPlaceMarkerPresent"`
}

func runInfo(ctx context.Context, o *infoOptions, w io.Writer) error {
	f := isolation.Gather(ctx)
	r := infoReport{User: f.User, UID: f.UID, Kernel: f.Kernel, Namespaces: allowed(f.Namespaces),
		UserNamespace: allowed(f.UserNamespace), SubUIDs: f.SubUIDs, SubGIDs: f.SubGIDs,
		NewUIDMap: f.NewUIDMap, NewGIDMap: f.NewGIDMap, Markers: f.Markers,
		InPlaceMarker: f.InPlaceMarker, HasMarker: f.HasInPlaceMarker}
	if d, err := isolation.Choose(f); err != nil {
		r.Isolation, r.Error = "none", err.Error()
	} else {
		r.Isolation, r.Reason = string(d.Mode), d.Reason
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printInfo(w, r)
	return nil
}

func printInfo(w io.Writer, r infoReport) {
	if r.Error != "" {
		fmt.Fprintf(w, "isolation: none: %s\n", r.Error)
	} else {
		fmt.Fprintf(w, "isolation: %s (%s)\n", r.Isolation, r.Reason)
	}
	marker := "absent"
	if r.HasMarker {
		marker = "present"
	}
	rows := [][2]string{
		{"user", fmt.Sprintf("%s (uid %d)", r.User, r.UID)},
		{"kernel", r.Kernel},
		{"namespaces and mounts", r.Namespaces},
		{"overlayfs in a user namespace", r.UserNamespace},
		{"subuid ranges", ranges(r.SubUIDs)},
		{"subgid ranges", ranges(r.SubGIDs)},
		{"newuidmap, newgidmap", orNone(r.NewUIDMap, "newuidmap missing") + ", " + orNone(r.NewGIDMap, "newgidmap missing")},
		{"container markers", orNone(strings.Join(r.Markers, "; "), "none")},
		{"in-place marker", r.InPlaceMarker + " (" + marker + ")"},
	}
	for _, row := range rows {
		fmt.Fprintf(w, "  %-30s %s\n", row[0]+":", row[1])
	}
}

func allowed(err error) string {
	if err != nil {
		return "refused: " + err.Error()
	}
	return "allowed"
}

func ranges(rs []isolation.IDRange) string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%d-%d", r.Start, r.Start+r.Count-1))
	}
	return orNone(strings.Join(out, ", "), "none")
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
