// Package transport loads, saves and inspects images by reference, in any transport: oci-archive:, oci:, docker-archive: or a registry (docker://).
package transport
