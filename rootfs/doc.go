// Package rootfs gives a build step its root filesystem through a Driver: layers unpacked once each in the driver's form, a root made of them for one step, a process run in it, and what the step changed.
package rootfs
