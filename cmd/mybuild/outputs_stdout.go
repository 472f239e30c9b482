package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/registry"
)

// stdoutFile is where an --output of type typ with dest=- is written
// first: a file of TMPDIR, named for this process, which toStdout copies
// to stdout once the build is done, so that stdout never gets half an
// archive. Only one output can go to stdout, and a directory cannot.
func (d *destinations) stdoutFile(typ string) (string, error) {
	switch {
	case d.stdout != "":
		return "", errors.New("only one output can go to stdout (dest=-)")
	case typ == "local":
		return "", errors.New("type=local writes a directory, which cannot go to stdout: type=tar writes the same files as one tar")
	case typ != "tar" && typ != "oci" && typ != "docker":
		return "", fmt.Errorf("type=%s cannot go to stdout (dest=-): tar, oci and docker can", typ)
	}
	d.stdout = filepath.Join(os.TempDir(), fmt.Sprintf("mybuild-stdout-%d.tar", os.Getpid()))
	return d.stdout, nil
}

// toStdout copies the output written for stdout there, and removes it.
func (d *destinations) toStdout(stdout io.Writer) error {
	f, err := os.Open(d.stdout)
	if err != nil {
		return fmt.Errorf("output to stdout: %w", err)
	}
	defer d.removeStdout()
	defer f.Close()
	if _, err := io.Copy(stdout, f); err != nil {
		return fmt.Errorf("output to stdout: %w", err)
	}
	return nil
}

// removeStdout removes the file of an output to stdout, written or not.
func (d *destinations) removeStdout() {
	if d != nil && d.stdout != "" {
		os.Remove(d.stdout)
	}
}

// reporter is rep, the blobs it is told of named as shown says: the
// progress of the archive written for stdout names stdout ("-"), not the
// temp file.
func (d *destinations) reporter(rep reporter) build.Reporter {
	if d.stdout == "" {
		return rep
	}
	return shownReporter{rep, d.shown}
}

// shownReporter renames the blobs of a reporter (see destinations.reporter).
type shownReporter struct {
	reporter
	shown func(string) string
}

func (r shownReporter) Blob(p registry.Progress) {
	p.Ref = r.shown(p.Ref)
	r.reporter.Blob(p)
}

// StepMissed is the reporter's, when it shows misses.
func (r shownReporter) StepMissed(info build.StepInfo, miss build.Miss) {
	if m, ok := r.reporter.(interface {
		StepMissed(build.StepInfo, build.Miss)
	}); ok {
		m.StepMissed(info, miss)
	}
}

// shown is an output as the progress names it: stdout is "-".
func (d *destinations) shown(out string) string {
	if d.stdout == "" {
		return out
	}
	return strings.ReplaceAll(out, d.stdout, "-")
}
