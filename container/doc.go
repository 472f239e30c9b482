// Package container runs an image's entrypoint and command in the build sandbox, on a throwaway upper layer, as docker run does.
package container
