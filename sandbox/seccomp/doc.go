// Package seccomp compiles Docker's default seccomp profile into one filter that covers every syscall ABI of the host's kernel, and installs it.
package seccomp
