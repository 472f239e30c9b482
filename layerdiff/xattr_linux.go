package layerdiff

import (
	"github.com/mybuild/mybuild/internal/xattr"
)

// Which xattrs a layer carries is xattr.Carried's to say, for RUN and COPY
// layers alike; an extracted tree gets every xattr of its tar but
// overlayfs' own (xattr.Overlay).

const paxXattr = "SCHILY.xattr."

// readXattrs returns the xattrs of path among names (from xattr.List) that
// belong in a layer, as PAX records.
func readXattrs(path string, names []string) (map[string]string, error) {
	attrs, err := xattr.Read(path, names, xattr.Carried)
	if err != nil || len(attrs) == 0 {
		return nil, err
	}
	recs := make(map[string]string, len(attrs))
	for _, a := range attrs {
		recs[paxXattr+a.Name] = string(a.Value)
	}
	return recs, nil
}
