package buildcontext

import (
	"os"
	"path"
	"path/filepath"
)

// Hidden lists what .dockerignore hides below the directory rel (resolved,
// as from Resolve), as paths relative to it, sorted: an ignored directory
// once, unless a "!" pattern may bring something below it back, in which
// case what stays hidden inside it is listed instead. A bind mount of the
// context covers these with whiteouts, so that RUN sees what COPY would.
func (c *Context) Hidden(rel string) ([]string, error) {
	if c.ignore == nil {
		return nil, nil
	}
	var out []string
	_, err := c.hidden(filepath.Join(c.root, rel), rel, "", &out)
	return out, err
}

// hidden appends what is hidden below host, and reports whether all of it
// is.
func (c *Context) hidden(host, ctxRel, srcRel string, out *[]string) (all bool, err error) {
	entries, err := os.ReadDir(host)
	if err != nil {
		return false, err
	}
	all = true
	for _, e := range entries {
		childCtx, childSrc := path.Join(ctxRel, e.Name()), path.Join(srcRel, e.Name())
		ignored, err := c.ignored(childCtx)
		if err != nil {
			return false, err
		}
		switch {
		case ignored && !(e.IsDir() && c.ignore.Exclusions()):
			*out = append(*out, childSrc)
		case e.IsDir():
			before := len(*out)
			whole, err := c.hidden(filepath.Join(host, e.Name()), childCtx, childSrc, out)
			if err != nil {
				return false, err
			}
			if ignored && whole {
				// Nothing came back from it: hide it whole.
				*out = append((*out)[:before], childSrc)
			} else {
				all = false
			}
		default:
			all = false
		}
	}
	return all, nil
}
