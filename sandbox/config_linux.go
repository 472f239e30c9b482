package sandbox

// initArg is argv[0] of the re-executed builder that sets up a sandbox.
const initArg = "mybuild-sandbox-init"

// File descriptors the init process inherits, in exec.Cmd.ExtraFiles order.
const (
	fdConfig = 3 // the parent writes childConfig as JSON, then closes
	fdStatus = 4 // the child writes a setup error; closed on a successful exec
	// fdAlive: the parent writes one byte once the command may run (the
	// init is in its device cgroup), and holds the write end open; EOF
	// means it died.
	fdAlive = 5
	// fdConsole, in terminal mode only, is a socket: the child sends the
	// pty master over it, and waits for one byte back before the exec.
	fdConsole = 6
)

// childConfig is what the init process needs.
type childConfig struct {
	Scratch string   `json:"scratch"`
	Lower   []string `json:"lower"` // absolute, newest first: the stubs, then the layers
	Upper   string   `json:"upper"`
	Binds   []bind   `json:"binds"`
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Dir     string   `json:"dir"`
	User    string   `json:"user"`
	Network Network  `json:"network"`
	Host    string   `json:"hostname"`
	Pipes   []Pipe   `json:"pipes,omitempty"`
	Mounts  []Mount  `json:"mounts,omitempty"` // resolved targets; Lower: absolute
	// Linked mounts overlays through links and mount(2) even where the
	// kernel has "lowerdir+" (overlayFS.linked): for the tests.
	Linked bool `json:"linked,omitempty"`
	TTY    bool `json:"tty,omitempty"`
	// Security is never "": validate filled it in.
	Security Security `json:"security"`
	// Seccomp is the filter to load, in sandbox mode (seccomp.Load).
	Seccomp []byte `json:"seccomp,omitempty"`
}

// bind is a read-only bind mount of a host file into the root.
type bind struct {
	Source string `json:"source"` // host path
	Target string `json:"target"` // resolved path inside the root
}

// Layout of Scratch.
const (
	mergedDir = "merged" // the overlay mount point, then the new root
	workDir   = "work"   // overlay workdir
	linksDir  = "l"      // short symlinks to the lower dirs, on kernels before 6.8
	stubsDir  = "stubs"  // the top lower layer holding missing mount points
	mountsDir = "mounts" // overlays and secrets of the step's mounts
)

// statusMsg is the one message the init process sends before exec.
type statusMsg struct {
	Error string `json:"error"`
	// Exec says why the command could not start: notFound or notExecutable.
	Exec string `json:"exec,omitempty"`
}

// statusMsg.Exec values.
const (
	notFound      = "not-found"
	notExecutable = "not-executable"
)
