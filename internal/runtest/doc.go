// Package runtest watches what a test started: a process's output line by line and its end, each with a deadline, and what must not outlive it (processes, mounts).
package runtest
