// Package overlay encodes overlayfs whiteouts and reads a stack of unpacked layer directories as one merged tree.
package overlay
