package cache

import (
	"slices"
	"testing"

	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
)

// chainLayer is a layer whose digests are made of name.
func chainLayer(name string) layer.Layer {
	return layer.Layer{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: digest.FromString("blob " + name),
		DiffID: digest.FromString(name), Size: 1}
}

func diffIDs(ls []layer.Layer) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.DiffID.String())
	}
	return out
}

// A layer's chain comes from a base image's record, or from a step's
// parents back to one; a --link step stands alone; a chain broken by a
// pruned record is none.
func TestLayerChain(t *testing.T) {
	s := open(t, t.TempDir())
	base1, base2 := chainLayer("base1"), chainLayer("base2")
	run1, run2 := chainLayer("run1"), chainLayer("run2")
	link, orphan, first := chainLayer("link"), chainLayer("orphan"), chainLayer("first")
	key := func(name string) digest.Digest { return NewKey(name).Sum() }
	recs := []*Record{
		{Key: key("from"), CreatedBy: "FROM debian", Base: []layer.Layer{base1, base2}},
		{Key: key("run1"), CreatedBy: "RUN a", Layer: &run1, Inputs: &Inputs{Parent: key("from"), Position: 2}},
		{Key: key("env"), CreatedBy: "ENV a=b", Inputs: &Inputs{Parent: key("run1"), Position: 3}},
		{Key: key("run2"), CreatedBy: "RUN b", Layer: &run2, Inputs: &Inputs{Parent: key("env"), Position: 4}},
		{Key: key("link"), CreatedBy: "COPY --link a /", Layer: &link, Inputs: &Inputs{Position: 5}},
		// Its parent's record was pruned.
		{Key: key("orphan"), CreatedBy: "RUN c", Layer: &orphan, Inputs: &Inputs{Parent: key("pruned"), Position: 3}},
		// The first step after FROM scratch: its parent has no record.
		{Key: key("first"), CreatedBy: "COPY a /", Layer: &first, Inputs: &Inputs{Parent: key("scratch"), Position: 2}},
	}
	for _, rec := range recs {
		if err := s.PutStep(rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		layer layer.Layer
		want  []layer.Layer // nil: no chain
	}{
		{base1, []layer.Layer{base1}},
		{base2, []layer.Layer{base1, base2}},
		{run1, []layer.Layer{base1, base2, run1}},
		{run2, []layer.Layer{base1, base2, run1, run2}},
		{link, []layer.Layer{link}},
		{orphan, nil},
		{first, []layer.Layer{first}},
		{chainLayer("unknown"), nil},
	} {
		got, ok, err := s.LayerChain(tc.layer.DiffID)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (tc.want != nil) || !slices.Equal(diffIDs(got), diffIDs(tc.want)) {
			t.Errorf("chain of %s: %v, %v; want %v", tc.layer.DiffID, diffIDs(got), ok, diffIDs(tc.want))
		}
	}
}
