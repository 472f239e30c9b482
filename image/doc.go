// Package image holds OCI images, manifests and configs, and reads and writes them in the oci, oci-archive and docker-archive formats (package transport picks which).
package image
