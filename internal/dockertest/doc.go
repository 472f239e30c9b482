// Package dockertest runs a private Docker engine for a test (Debian's docker.io: its own data root and socket, no bridge, no iptables rules) and the docker CLI against it.
package dockertest
