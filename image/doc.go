// Package image reads and writes OCI images: manifests, configs, and the oci, oci-archive and docker-archive transports.
package image
