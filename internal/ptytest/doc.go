// Package ptytest opens pseudo-terminals for tests that need a terminal on the host side.
package ptytest
