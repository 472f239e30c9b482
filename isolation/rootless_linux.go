package isolation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/userns"
)

// rootlessEnv tells a builder re-executed by EnterRootless where it
// stands: "wait" while its id maps are written, "in" once it is root of
// its user namespace.
const rootlessEnv = "_MYBUILD_ROOTLESS"

// rootlessUserEnv names the user a rootless builder runs for.
const rootlessUserEnv = "_MYBUILD_ROOTLESS_USER"

// syncFD is the pipe a waiting builder reads "go" from.
const syncFD = 3

// Main lets a builder that EnterRootless started wait for its id maps,
// then re-execute itself: only a program executed as root of the
// namespace gets root's capabilities there. Call it first thing in main;
// otherwise it returns at once.
func Main() {
	if os.Getenv(rootlessEnv) != "wait" {
		return
	}
	sync := os.NewFile(syncFD, "sync")
	var b [2]byte
	if n, _ := sync.Read(b[:]); n != 2 || string(b[:]) != "go" {
		fmt.Fprintln(os.Stderr, "mybuild: rootless: the user namespace was not set up")
		os.Exit(125)
	}
	sync.Close()
	os.Setenv(rootlessEnv, "in")
	err := unix.Exec("/proc/self/exe", os.Args, os.Environ())
	fmt.Fprintf(os.Stderr, "mybuild: rootless: exec: %v\n", err)
	os.Exit(125)
}

// InRootless tells whether this process is the builder EnterRootless
// started, root of its user namespace.
func InRootless() bool {
	return os.Getenv(rootlessEnv) == "in" && userns.Inside()
}

// rootlessDecision is the decision of the builder EnterRootless started.
func rootlessDecision() Decision {
	return Decision{Rootless, fmt.Sprintf("user %s, in a user namespace mapped from /etc/subuid and /etc/subgid", os.Getenv(rootlessUserEnv))}
}

// EnterRootless runs this program again, with args (os.Args), as root of
// a new user namespace with a mount namespace of its own: the user's id
// is 0 there, and the user's subuid and subgid ranges (f.SubUIDs,
// f.SubGIDs) are 1 and up, mapped by newuidmap and newgidmap, as Podman
// and rootless BuildKit map them. It forwards SIGINT and SIGTERM, and
// returns the exit code of the builder there.
func EnterRootless(ctx context.Context, f Facts, args []string) (int, error) {
	if err := f.checkSubIDs(); err != nil {
		return 0, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer w.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = args
	cmd.Env = append(os.Environ(), rootlessEnv+"=wait", rootlessUserEnv+"="+f.User)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	r.Close()
	if err != nil {
		return 0, fmt.Errorf("rootless: start the builder in a user namespace: %w", err)
	}
	if err := writeMaps(ctx, cmd.Process.Pid, f); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, err
	}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		for s := range signals {
			cmd.Process.Signal(s)
		}
	}()
	if _, err := w.Write([]byte("go")); err != nil {
		return 0, fmt.Errorf("rootless: %w", err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// writeMaps maps the user's ids into the namespace of pid.
func writeMaps(ctx context.Context, pid int, f Facts) error {
	uidArgs := idMapArgs(pid, f.UID, f.SubUIDs)
	gidArgs := idMapArgs(pid, os.Getgid(), f.SubGIDs)
	for _, c := range []struct {
		tool string
		args []string
	}{{f.NewUIDMap, uidArgs}, {f.NewGIDMap, gidArgs}} {
		out, err := exec.CommandContext(ctx, c.tool, c.args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("rootless: %s: %w: %s", c.tool, err, out)
		}
	}
	return nil
}

// idMapArgs are newuidmap's arguments: the user's own id as 0, the
// ranges one after the other from 1.
func idMapArgs(pid, own int, ranges []IDRange) []string {
	args := []string{strconv.Itoa(pid), "0", strconv.Itoa(own), "1"}
	next := int64(1)
	for _, r := range ranges {
		args = append(args, strconv.FormatInt(next, 10), strconv.FormatInt(r.Start, 10), strconv.FormatInt(r.Count, 10))
		next += r.Count
	}
	return args
}
