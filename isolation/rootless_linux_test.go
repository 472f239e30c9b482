package isolation

import (
	"slices"
	"testing"
)

// The owners a rootless build keys context files with are those its user
// namespace shows them as.
func TestNamespaceOwners(t *testing.T) {
	f := Facts{UID: 1000, GID: 1001,
		SubUIDs: []IDRange{{100000, 65536}, {300000, 10}},
		SubGIDs: []IDRange{{200000, 65536}}}
	owners := NamespaceOwners(f)
	for _, c := range []struct{ uid, gid, wantUID, wantGID uint32 }{
		{1000, 1001, 0, 0},
		{100000, 200000, 1, 1},
		{165535, 265535, 65536, 65536},
		{300000, 0, 65537, overflowID},
		{300009, 1000, 65546, overflowID},
		{0, 1001, overflowID, 0},
		{300010, 265536, overflowID, overflowID},
	} {
		if u, g := owners(c.uid, c.gid); u != c.wantUID || g != c.wantGID {
			t.Errorf("%d:%d shows as %d:%d, want %d:%d", c.uid, c.gid, u, g, c.wantUID, c.wantGID)
		}
	}
}

// newuidmap gets the user's id as 0 and the ranges one after the other.
func TestIDMapArgs(t *testing.T) {
	got := idMapArgs(42, 1000, []IDRange{{100000, 65536}, {300000, 10}})
	want := []string{"42", "0", "1000", "1", "1", "100000", "65536", "65537", "300000", "10"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
