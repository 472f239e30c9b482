package buildcontext

import (
	"fmt"
	"path"
	"strings"

	"github.com/moby/patternmatcher"
)

// Filter keeps, of files (what Walk lists for one source: the source,
// then what is below it, depth first), what the include patterns of COPY
// --parents and the exclude patterns of --exclude let through, as
// BuildKit's fsutil copy filters a source:
//
//   - patterns match paths below the source, with .dockerignore's syntax
//     (patternmatcher): a directory that matches brings all below it;
//   - the source itself is always kept;
//   - an excluded directory is not entered, unless "!" patterns among the
//     excludes may bring something below it back;
//   - a directory that is not itself kept, but holds something kept, is
//     kept as a parent only (File.Parent), in front of the first kept
//     entry below it.
//
// Without patterns, files is returned as it is.
func Filter(files []File, include, exclude []string) ([]File, error) {
	if len(files) == 0 || len(include) == 0 && len(exclude) == 0 {
		return files, nil
	}
	f := filter{out: []File{files[0]}, stack: []filterDir{{kept: true}}}
	var err error
	if f.include, err = matcher(include); err != nil {
		return nil, fmt.Errorf("invalid include patterns %q: %w", include, err)
	}
	if f.exclude, err = matcher(exclude); err != nil {
		return nil, fmt.Errorf("invalid exclude patterns %q: %w", exclude, err)
	}
	skip := "" // a directory not entered
	for _, file := range files[1:] {
		if skip != "" && strings.HasPrefix(file.Rel, skip+"/") {
			continue
		}
		skip = ""
		enter, err := f.add(file)
		if err != nil {
			return nil, err
		}
		if !enter {
			skip = file.Rel
		}
	}
	return f.out, nil
}

func matcher(patterns []string) (*patternmatcher.PatternMatcher, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	return patternmatcher.New(patterns)
}

// filter is the state of Filter: what it keeps, and the directories
// above the entry it looks at.
type filter struct {
	include, exclude *patternmatcher.PatternMatcher
	out              []File
	stack            []filterDir
}

// filterDir is a directory above the entry Filter looks at: how its path
// matched, which its children's matching starts from, and whether it is
// in out yet.
type filterDir struct {
	file     File
	inc, exc patternmatcher.MatchInfo
	kept     bool
}

// add decides about one entry, and reports whether what is below it (a
// directory) is to be looked at.
func (f *filter) add(file File) (enter bool, err error) {
	parent := path.Dir(file.Rel)
	if parent == "." {
		parent = ""
	}
	for len(f.stack) > 1 && f.stack[len(f.stack)-1].file.Rel != parent {
		f.stack = f.stack[:len(f.stack)-1]
	}
	up := f.stack[len(f.stack)-1]
	included, excluded := true, false
	var inc, exc patternmatcher.MatchInfo
	if f.include != nil {
		if included, inc, err = f.include.MatchesUsingParentResults(file.Rel, up.inc); err != nil {
			return false, err
		}
	}
	if f.exclude != nil {
		if excluded, exc, err = f.exclude.MatchesUsingParentResults(file.Rel, up.exc); err != nil {
			return false, err
		}
	}
	keep := included && !excluded
	isDir := file.Info.IsDir()
	if keep {
		f.keepParents()
		f.out = append(f.out, file)
	}
	if !isDir {
		return false, nil
	}
	if excluded && !f.exclude.Exclusions() {
		return false, nil
	}
	f.stack = append(f.stack, filterDir{file: file, inc: inc, exc: exc, kept: keep})
	return true, nil
}

// keepParents keeps, as parents only, the directories above the entry
// being kept that are not kept yet.
func (f *filter) keepParents() {
	for i := range f.stack {
		if !f.stack[i].kept {
			p := f.stack[i].file
			p.Parent = true
			f.out = append(f.out, p)
			f.stack[i].kept = true
		}
	}
}
