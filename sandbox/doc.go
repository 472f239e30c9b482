// Package sandbox runs one build step on an overlayfs root in fresh mount, PID, UTS, IPC (and network) namespaces.
package sandbox
