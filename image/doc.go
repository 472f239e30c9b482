// Package image reads, writes and inspects OCI images: manifests, configs, and the oci, oci-archive and docker-archive transports.
package image
