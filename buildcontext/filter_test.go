package buildcontext

import (
	"reflect"
	"testing"
)

// Filter keeps what the patterns let through, below the source, with the
// directories above it as parents only (marked "^").
func TestFilter(t *testing.T) {
	root := tree(t, map[string]string{
		"a/b/c/d/foo": "", "a/b/c/d/e/bay": "", "a/b2/c/d/e/bar": "",
		"a/b/c2/d/e/baz": "", "a/b/c2/d/e2/baz": "",
		"x.png": "", "x.txt": "", "sub/y.png": "", "sub/keep.png": "",
		"node_modules/m/index.js": "",
	})
	c := open(t, root)
	all, err := c.Walk(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		include, exclude []string
		want             []string
	}{
		{include: []string{"a/b/c/d"}, want: []string{"/", "a/^", "a/b/^", "a/b/c/^", "a/b/c/d/", "a/b/c/d/e/", "a/b/c/d/e/bay", "a/b/c/d/foo"}},
		{include: []string{"a/*/c/**/e"}, want: []string{"/", "a/^", "a/b/^", "a/b/c/^", "a/b/c/d/^", "a/b/c/d/e/", "a/b/c/d/e/bay",
			"a/b2/^", "a/b2/c/^", "a/b2/c/d/^", "a/b2/c/d/e/", "a/b2/c/d/e/bar"}},
		{include: []string{"a/b/c2*"}, exclude: []string{"**/e2"}, want: []string{"/", "a/^", "a/b/^", "a/b/c2/", "a/b/c2/d/", "a/b/c2/d/e/", "a/b/c2/d/e/baz"}},
		{include: []string{"nomatch*"}, want: []string{"/"}},
		{exclude: []string{"*.png", "node_modules"}, want: []string{"/", "a/", "a/b/", "a/b/c/", "a/b/c/d/", "a/b/c/d/e/", "a/b/c/d/e/bay", "a/b/c/d/foo",
			"a/b/c2/", "a/b/c2/d/", "a/b/c2/d/e/", "a/b/c2/d/e/baz", "a/b/c2/d/e2/", "a/b/c2/d/e2/baz", "a/b2/", "a/b2/c/", "a/b2/c/d/", "a/b2/c/d/e/", "a/b2/c/d/e/bar",
			"sub/", "sub/keep.png", "sub/y.png", "x.txt"}},
		// "!" patterns bring back what is below an excluded directory.
		{exclude: []string{"*", "!sub/keep.png"}, want: []string{"/", "sub/^", "sub/keep.png"}},
	} {
		got, err := Filter(all, tc.include, tc.exclude)
		if err != nil {
			t.Fatal(err)
		}
		var rel []string
		for _, f := range got {
			r := f.Rel
			if f.Info.IsDir() {
				r += "/"
			}
			if f.Parent {
				r += "^"
			}
			rel = append(rel, r)
		}
		if !reflect.DeepEqual(rel, tc.want) {
			t.Errorf("include %q exclude %q:\n got %q\nwant %q", tc.include, tc.exclude, rel, tc.want)
		}
	}
	if _, err := Filter(all, nil, []string{"["}); err == nil {
		t.Error("a bad pattern is accepted")
	}
}
