package overlay

import "syscall"

var errNotDir error = syscall.ENOTDIR
