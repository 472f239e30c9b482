package buildcontext

import "syscall"

var errNotDir error = syscall.ENOTDIR
