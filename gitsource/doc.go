// Package gitsource fetches the git repositories ADD names, as BuildKit's
// git source does: a ref parsed as dfgitutil reads it, resolved to a
// commit with git ls-remote, then fetched and checked out by the git
// binary.
package gitsource
