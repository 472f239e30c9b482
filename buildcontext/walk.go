package buildcontext

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mybuild/mybuild/internal/xattr"
	digest "github.com/opencontainers/go-digest"
)

// File is one entry that copying a source brings.
type File struct {
	// Rel is the path below the source, slash-separated; "" is the source
	// itself.
	Rel string
	// Host is where the file is on the host.
	Host string
	// Info is from lstat.
	Info fs.FileInfo
	// Digest is the sha256 of a regular file's content, set by Hash.
	Digest digest.Digest
	// Link is a symlink's target, set by Hash.
	Link string
	// Xattrs are the extended attributes that are copied, set by Hash.
	Xattrs []Xattr
	// Parent marks a directory that Filter keeps only because something
	// below it is kept.
	Parent bool
}

// Xattr is one extended attribute.
type Xattr = xattr.Attr

// Walk lists what copying the resolved source rel (from Resolve) brings:
// the source itself, then, for a directory, everything below it that is
// not ignored, depth first in name order. An ignored directory is entered
// only when a "!" pattern may bring back something below it, and then
// appears only as the parent of what comes back.
func (c *Context) Walk(rel string) ([]File, error) {
	host := filepath.Join(c.root, rel)
	fi, err := os.Lstat(host)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	files := []File{{Host: host, Info: fi}}
	if !fi.IsDir() {
		return files, nil
	}
	return c.walkDir(files, host, rel, "")
}

func (c *Context) walkDir(files []File, host, ctxRel, srcRel string) ([]File, error) {
	entries, err := readDir(host)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		childHost := joinRel(host, e.name)
		childCtx := joinRel(ctxRel, e.name)
		childSrc := joinRel(srcRel, e.name)
		ignored, err := c.ignored(childCtx)
		if err != nil {
			return nil, err
		}
		isDir := e.info.IsDir()
		if ignored && (!isDir || !c.ignore.Exclusions()) {
			continue
		}
		n := len(files)
		files = append(files, File{Rel: childSrc, Host: childHost, Info: e.info})
		if !isDir {
			continue
		}
		if files, err = c.walkDir(files, childHost, childCtx, childSrc); err != nil {
			return nil, err
		}
		if ignored && len(files) == n+1 {
			files = files[:n] // nothing below came back: drop the parent too
		}
	}
	return files, nil
}

// joinRel is path.Join for a clean dir ("" or "." for the top, "/" for
// the root) and one name, which holds no slash: the cost of Join's
// cleaning, once per entry of a large context, is not needed.
func joinRel(dir, name string) string {
	switch {
	case dir == "" || dir == ".":
		return name
	case strings.HasSuffix(dir, "/"):
		return dir + name
	}
	return dir + "/" + name
}
