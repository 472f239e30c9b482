package buildcontext

import "syscall"

// keyOf is what the stat cache compares of a file.
func keyOf(st *syscall.Stat_t) statEntry {
	return statEntry{
		Dev: st.Dev, Ino: st.Ino, Size: st.Size, Mode: st.Mode, UID: st.Uid, GID: st.Gid,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
	}
}
