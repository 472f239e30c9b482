// Package buildcontext selects and checksums the files of a build context, honouring .dockerignore.
package buildcontext
