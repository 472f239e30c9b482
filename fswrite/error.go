package fswrite

// Error is a filesystem operation that failed on one path, with what it
// was setting, as runc's mountError names its mount: "lchown /a/b 0:5:
// operation not permitted".
type Error struct {
	Op   string // the system call: lchown, fchmod, lsetxattr, utimensat, mknod...
	Path string
	Arg  string // what it set, when that says more: an owner, a mode, an xattr's name; may be ""
	Err  error
}

func (e *Error) Error() string {
	s := e.Op + " " + e.Path
	if e.Arg != "" {
		s += " " + e.Arg
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
