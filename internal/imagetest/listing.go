package imagetest

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ListingOptions adjusts a listing so that it can be compared across
// builders and across updates of the files a test puts in an image.
type ListingOptions struct {
	// Ignore lists absolute paths to leave out, such as the mount points a
	// builder's sandbox leaves behind. Only the paths themselves are left
	// out, not what is below them.
	Ignore []string
	// Rename maps the SHA-256 of a content (lowercase hex, optionally with
	// a "sha256:" prefix) to a placeholder such as "<busybox>". A renamed
	// file is listed as "sha256=<placeholder>" without its size.
	Rename map[string]string
}

// Listing returns one line per path, in the order of Paths:
//
//	/bin/busybox file 0755 0:0 sha256=<busybox>
//	/bin/sh symlink 0777 0:0 -> /bin/busybox
//	/etc dir 0755 0:0
//	/etc/a file 0644 0:0 size=3 sha256=… nlink=2
//	/etc/b file 0644 0:0 size=3 sha256=… nlink=2 hardlink=/etc/a
//	/dev/null char 0666 0:0 dev=1,3
//	/x file 0644 0:0 size=0 sha256=… xattr.user.k="v"
//
// Paths and link targets that hold spaces, quotes, backslashes or
// characters that are not printable are written as Go quoted strings.
// Extended attribute values are always quoted.
func (fsys *FS) Listing(opts ListingOptions) string {
	ignore := map[string]bool{}
	for _, p := range opts.Ignore {
		ignore[path.Clean("/"+p)] = true
	}
	rename := map[string]string{}
	for h, name := range opts.Rename {
		rename[strings.ToLower(strings.TrimPrefix(h, "sha256:"))] = name
	}
	var sb strings.Builder
	for _, p := range fsys.Paths() {
		if ignore[p] {
			continue
		}
		writeLine(&sb, p, fsys.entries[p], rename)
	}
	return sb.String()
}

func writeLine(sb *strings.Builder, p string, e Entry, rename map[string]string) {
	fmt.Fprintf(sb, "%s %s %04o %d:%d", quote(p), e.Type, e.Mode, e.Uid, e.Gid)
	switch e.Type {
	case TypeFile:
		if name, ok := rename[e.SHA256]; ok {
			fmt.Fprintf(sb, " sha256=%s", name)
		} else {
			fmt.Fprintf(sb, " size=%d sha256=%s", e.Size, e.SHA256)
		}
	case TypeSymlink:
		fmt.Fprintf(sb, " -> %s", quote(e.Linkname))
	case TypeChar, TypeBlock:
		fmt.Fprintf(sb, " dev=%d,%d", e.Devmajor, e.Devminor)
	}
	if e.Nlink > 1 {
		fmt.Fprintf(sb, " nlink=%d", e.Nlink)
	}
	if e.Hardlink != "" {
		fmt.Fprintf(sb, " hardlink=%s", quote(e.Hardlink))
	}
	for _, k := range slices.Sorted(maps.Keys(e.Xattrs)) {
		fmt.Fprintf(sb, " xattr.%s=%s", quote(k), strconv.Quote(e.Xattrs[k]))
	}
	sb.WriteByte('\n')
}

// quote returns s unchanged when it reads unambiguously inside a listing
// line, and as a Go quoted string otherwise.
func quote(s string) string {
	if s == "" || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '\\' || !unicode.IsGraphic(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
