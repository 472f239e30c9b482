package buildcontext

import "golang.org/x/sys/unix"

func setXattr(path, name, value string) error {
	return unix.Lsetxattr(path, name, []byte(value), 0)
}
