// Package registrytest runs registries for tests: Debian's docker-registry (distribution v2.8) as a real process, or ggcr's in-memory one.
package registrytest
