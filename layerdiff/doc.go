// Package layerdiff turns an overlay upper directory into an OCI layer tar, extracts layer tars into overlay-format directories, and opens the archives ADD unpacks.
package layerdiff
