// Package userns tells whether this process runs in a user namespace, as
// the rootless mode runs the whole builder: that decides the on-disk form
// of unpacked layers (user.overlay.* xattrs) and what a step's sandbox
// can mount and make.
package userns
