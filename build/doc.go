// Package build runs a Dockerfile: it plans the stages, keys every step by content, and runs each step or takes it from the cache.
package build
