// Package layerdiff turns an overlay upper directory into an OCI layer tar, and extracts layer tars into overlay-format directories.
package layerdiff
