// Package cache is the on-disk, content-addressed store of layer blobs, unpacked layers and step records.
package cache
