package devcgroup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// prefix starts the name of every cgroup New makes: mybuild-<pid>-<random>.
const prefix = "mybuild-"

// removeTimeout is how long Remove waits for the processes of a cgroup to
// be gone: killed processes leave it only once the kernel reaped them.
const removeTimeout = 5 * time.Second

// Cgroup is a cgroup of one sandboxed process tree.
type Cgroup struct {
	dir string
	v2  bool
}

// New makes a cgroup, below the caller's own, in which only what rules
// allow can be done to device nodes: opening one for reading or writing,
// or making one. Put the process in with Add before it runs anything, and
// take the cgroup away with Remove once the process is gone.
func New(rules []Rule) (*Cgroup, error) {
	hs, err := ownHierarchies()
	if err != nil {
		return nil, err
	}
	return createIn(hs, rules)
}

// ownHierarchies are found once per process, and the cgroups that dead
// builders left there are reaped then: the cgroup mounts and a builder's
// own cgroup do not change while it runs, and finding them costs more
// than making a cgroup.
var ownHierarchies = sync.OnceValues(func() ([]hierarchy, error) {
	hs, err := findHierarchies("")
	for _, h := range hs {
		reapStale(h.dir)
	}
	return hs, err
})

// newIn is New in the hierarchy want names ("v1", "v2", "" for either).
func newIn(want string, rules []Rule) (*Cgroup, error) {
	hs, err := findHierarchies(want)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		reapStale(h.dir)
	}
	return createIn(hs, rules)
}

// Make makes an empty cgroup below the caller's own, as New does, that
// confines nothing yet: Confine it before anything in it opens a device
// node. It is where a process is born or moved in while its rules are
// set (loading a device program takes a millisecond), in the first
// hierarchy that takes a new cgroup.
func Make() (*Cgroup, error) {
	hs, err := ownHierarchies()
	if err != nil {
		return nil, err
	}
	return firstOf(hs, mkdir)
}

// Confine sets rules on a cgroup from Make: a device program for a cgroup
// v2, the devices controller's lists for v1.
func (c *Cgroup) Confine(rules []Rule) error {
	for _, r := range rules {
		if err := r.validate(); err != nil {
			return err
		}
	}
	if c.v2 {
		return attachProgram(c.dir, rules)
	}
	return writeRules(c.dir, rules)
}

// createIn makes the cgroup in the first of hs that takes it: a v2
// hierarchy may be read-only (in a container) where v1 is not.
func createIn(hs []hierarchy, rules []Rule) (*Cgroup, error) {
	return firstOf(hs, func(h hierarchy) (*Cgroup, error) { return create(h, rules) })
}

// firstOf is the cgroup mk makes in the first of hs that takes one,
// or every hierarchy's error.
func firstOf(hs []hierarchy, mk func(hierarchy) (*Cgroup, error)) (*Cgroup, error) {
	var errs []error
	for _, h := range hs {
		cg, err := mk(h)
		if err == nil {
			return cg, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func create(h hierarchy, rules []Rule) (*Cgroup, error) {
	cg, err := mkdir(h)
	if err != nil {
		return nil, err
	}
	if err := cg.Confine(rules); err != nil {
		_ = cg.Remove()
		return nil, err
	}
	return cg, nil
}

// mkdir makes a cgroup of no rules in h.
//
//	mkdir /sys/fs/cgroup/devices/$own/mybuild-$$-$rnd
func mkdir(h hierarchy) (*Cgroup, error) {
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	dir := filepath.Join(h.dir, prefix+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devcgroup: %w", err)
	}
	return &Cgroup{dir: dir, v2: h.v2}, nil
}

// Dir is the cgroup's directory.
func (c *Cgroup) Dir() string { return c.dir }

// OpenV2 opens the directory of a cgroup v2, for a child to be born in it
// (SysProcAttr.UseCgroupFD: clone3 with CLONE_INTO_CGROUP), which spares
// the move Add makes. ok is false for a v1 cgroup: Add it is then.
func (c *Cgroup) OpenV2() (f *os.File, ok bool, err error) {
	if !c.v2 {
		return nil, false, nil
	}
	f, err = os.OpenFile(c.dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("devcgroup: %w", err)
	}
	return f, true, nil
}

// Add moves process pid into the cgroup.
//
//	echo $pid > $dir/cgroup.procs
func (c *Cgroup) Add(pid int) error {
	if err := os.WriteFile(filepath.Join(c.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("devcgroup: add process %d: %w", pid, err)
	}
	return nil
}

// Remove takes the cgroup away, waiting for the processes still in it to
// be reaped.
//
//	rmdir $dir
func (c *Cgroup) Remove() error {
	deadline := time.Now().Add(removeTimeout)
	for {
		err := unix.Rmdir(c.dir)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
			return nil
		case !errors.Is(err, unix.EBUSY) || time.Now().After(deadline):
			return fmt.Errorf("devcgroup: remove %s: %w", c.dir, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writeRules sets a v1 devices cgroup to refuse everything but rules.
//
//	echo a > devices.deny; echo 'c 1:3 rwm' > devices.allow; ...
func writeRules(dir string, rules []Rule) error {
	if err := os.WriteFile(filepath.Join(dir, "devices.deny"), []byte("a"), 0); err != nil {
		return fmt.Errorf("devcgroup: deny all: %w", err)
	}
	for _, r := range rules {
		if err := os.WriteFile(filepath.Join(dir, "devices.allow"), []byte(r.String()), 0); err != nil {
			return fmt.Errorf("devcgroup: allow %s: %w", r, err)
		}
	}
	return nil
}

// attachProgram attaches the device program of rules to the cgroup v2
// dir. It stays there until the cgroup goes. BPF_F_ALLOW_MULTI keeps the
// programs of the cgroups above in force too, and lets a container
// runtime's own program stay where it is.
func attachProgram(dir string, rules []Rule) error {
	prog, err := loadedProgram(rules)
	if err != nil {
		return err
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("devcgroup: %w", err)
	}
	defer unix.Close(fd)
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  fd,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	})
	if err != nil {
		return fmt.Errorf("devcgroup: attach device program: %w", err)
	}
	return nil
}

// programs holds the device programs loaded so far, by their rules: the
// kernel verifies and compiles a program once per process, and every
// cgroup of the same rules shares it (each attachment holds its own
// reference). Loading is most of what a cgroup costs a step.
var programs sync.Map // string (the rules) -> *ebpf.Program

func loadedProgram(rules []Rule) (*ebpf.Program, error) {
	key := fmt.Sprint(rules)
	if p, ok := programs.Load(key); ok {
		return p.(*ebpf.Program), nil
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.CGroupDevice,
		Instructions: program(rules),
		License:      "Apache-2.0",
	})
	if err != nil {
		return nil, fmt.Errorf("devcgroup: load device program: %w", err)
	}
	if p, loaded := programs.LoadOrStore(key, prog); loaded {
		prog.Close() // another goroutine loaded it at the same time
		return p.(*ebpf.Program), nil
	}
	return prog, nil
}

// reapStale removes the cgroups that builders which died left in dir:
// named for a process that is gone, empty, and older than a minute (a
// cgroup that another builder, in a PID namespace of its own, has just
// made is left alone). Failures are ignored: a busy cgroup stays.
func reapStale(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		_ = unix.Rmdir(filepath.Join(dir, e.Name()))
	}
}
