// Package devcgroup puts a process in a cgroup of its own that lets it use only the devices it is allowed, as runc does: with the v1 devices controller, or an eBPF device program on cgroup v2.
package devcgroup
