package buildcontext

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context directory. Paths ignored by .dockerignore are
// invisible through it, as if they were not there.
type Context struct {
	root   string
	ignore *patternmatcher.PatternMatcher // nil: nothing ignored
	// ignoring serialises ignore's matches: a PatternMatcher compiles
	// its patterns on its first match, and the platforms of a build
	// resolve their COPYs in one Context at once.
	ignoring sync.Mutex
	stats    *StatCache // nil: hash every file
	// hashed holds the files hashed so far, each hashed once.
	hashed hashMemo
}

// Option configures a Context.
type Option func(*Context)

// WithStatCache lets Hash skip reading files whose stat data is unchanged.
func WithStatCache(sc *StatCache) Option {
	return func(c *Context) { c.stats = sc }
}

// Open opens the context at dir. dockerfile is the Dockerfile's path: as
// BuildKit does, a "<dockerfile>.dockerignore" next to it takes precedence
// over the context's ".dockerignore". The Dockerfile is read separately, so
// ignoring it does not stop the build.
func Open(dir, dockerfile string, opts ...Option) (*Context, error) {
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory", dir)
	}
	c := &Context{root: root}
	for _, o := range opts {
		o(c)
	}
	patterns, err := readIgnoreFile(root, dockerfile)
	if err != nil {
		return nil, err
	}
	if len(patterns) > 0 {
		if c.ignore, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf(".dockerignore: %w", err)
		}
	}
	return c, nil
}

// Root is the context directory.
func (c *Context) Root() string { return c.root }

func readIgnoreFile(root, dockerfile string) ([]string, error) {
	candidates := []string{filepath.Join(root, ".dockerignore")}
	if dockerfile != "" {
		candidates = append([]string{dockerfile + ".dockerignore"}, candidates...)
	}
	for _, p := range candidates {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		return patterns, nil
	}
	return nil, nil
}

// ignored reports whether rel (slash-separated, relative to the root) or a
// parent of it is excluded.
func (c *Context) ignored(rel string) (bool, error) {
	if c.ignore == nil || rel == "" || rel == "." {
		return false, nil
	}
	c.ignoring.Lock()
	m, err := c.ignore.MatchesOrParentMatches(rel)
	c.ignoring.Unlock()
	if err != nil {
		return false, fmt.Errorf(".dockerignore: %w", err)
	}
	return m, nil
}

// IgnorePatterns reads the patterns of the .dockerignore that Open would
// use for the context dir and the Dockerfile: nil when there is none.
func IgnorePatterns(dir, dockerfile string) ([]string, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	return readIgnoreFile(root, dockerfile)
}
