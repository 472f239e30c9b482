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

// rootlessEnv is set to "in" in the builder EnterRootless starts.
const rootlessEnv = "_MYBUILD_ROOTLESS"

// rootlessUserEnv names the user a rootless builder runs for.
const rootlessUserEnv = "_MYBUILD_ROOTLESS_USER"

// waitThenExec is what runs first in the new user namespace: a shell that
// waits for a line on fd 3 (sent once the id maps are written; none if the
// builder dies) and then executes mybuild, as root of the namespace (only
// a program executed as root there gets root's capabilities). A shell
// starts in a millisecond, where mybuild itself would take ten.
const waitThenExec = `read -r go <&3 && exec "$0" "$@" 3<&-`

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
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("rootless: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer w.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", waitThenExec, exe}, args[1:]...)...)
	cmd.Env = append(os.Environ(), rootlessEnv+"=in", rootlessUserEnv+"="+f.User)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	r.Close()
	if err != nil {
		return 0, fmt.Errorf("rootless: user namespaces are refused here: %w", err)
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
	if _, err := w.Write([]byte("go\n")); err != nil {
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
	gidArgs := idMapArgs(pid, f.GID, f.SubGIDs)
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

// overflowID is what a user namespace shows for an id it does not map.
const overflowID = 65534

// NamespaceOwners maps host owners to those the user namespace of
// EnterRootless shows: the user's own ids are 0, the subordinate ranges 1
// and up, and any other id the overflow id.
func NamespaceOwners(f Facts) func(uid, gid uint32) (uint32, uint32) {
	return func(uid, gid uint32) (uint32, uint32) {
		return inNamespace(uid, f.UID, f.SubUIDs), inNamespace(gid, f.GID, f.SubGIDs)
	}
}

func inNamespace(id uint32, own int, ranges []IDRange) uint32 {
	if int64(id) == int64(own) {
		return 0
	}
	next := int64(1)
	for _, r := range ranges {
		if int64(id) >= r.Start && int64(id) < r.Start+r.Count {
			return uint32(next + int64(id) - r.Start)
		}
		next += r.Count
	}
	return overflowID
}
