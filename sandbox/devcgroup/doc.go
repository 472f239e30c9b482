// Package devcgroup puts a process in a cgroup of its own that lets it use only the devices it is allowed, as runc does: with an eBPF device program on cgroup v2, or the v1 devices controller.
package devcgroup
