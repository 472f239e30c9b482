// Package layer describes a layer blob as every other package passes it around: its media type, digests and size, and the compression it was written with.
package layer
