package buildcontext

import "syscall"

// keyOf is what the stat cache compares of a file. mybuild builds on
// Linux; this lets the package compile and its tests run on a Mac.
func keyOf(st *syscall.Stat_t) statEntry {
	return statEntry{
		Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size, Mode: uint32(st.Mode), UID: st.Uid, GID: st.Gid,
		Mtime: st.Mtimespec.Nano(), Ctime: st.Ctimespec.Nano(),
	}
}
