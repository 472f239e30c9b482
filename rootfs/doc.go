// Package rootfs unpacks an image's layers into the cache, once each, as the lower dirs of an overlay root, and makes the upper dir that goes on them.
package rootfs
